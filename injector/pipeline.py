"""From bytes to rewritten bytes: prefilter, parse, plan each point, apply, report."""

from __future__ import annotations

import ast
import re
import traceback

import libcst as cst

from injector.clashes import find_clash
from injector.distributed import find_distribution
from injector.edits import LineOf, SnippetError, apply_edits, parse_snippets, render
from injector.frameworks.accelerate import plan_accelerate
from injector.frameworks.keras import plan_keras
from injector.frameworks.lightning import plan_lightning
from injector.frameworks.transformers import plan_transformers
from injector.jax_steps import find_traced
from injector.links import linked_names
from injector.options import InjectOptions, Role
from injector.points import Plan
from injector.points.eval_log import plan_eval_logs
from injector.points.finish_run import plan_finish
from injector.points.import_wandb import plan_imports
from injector.points.init_run import plan_init
from injector.points.rank_zero_guard import FORM
from injector.points.train_log import plan_train_logs
from injector.result import (
    ConfigInfo,
    DistributedInfo,
    FileReport,
    Omission,
    Point,
    Status,
)
from injector.script import Stmt, scan
from injector.tracking import find_tracking
from injector.training import find_training_loops, trainer_functions
from injector.values import Kinds

# Cheap evidence of training, checked on raw bytes before anything is parsed.
_TRAINING_MARKERS = re.compile(
    rb"backward\s*\(|\.step\s*\(|scaler\s*\(|\(\s*loss\w*\s*,\s*\w*opt|"
    rb"Trainer\s*\(|\.fit\s*\(|grad\s*\(|apply_gradients|apply_updates"
)


def inject_source(
    source: bytes | str,
    options: InjectOptions | None = None,
    path: str = "<string>",
) -> FileReport:
    """Rewrite one script's source; never raises, whatever the input."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    options = options or InjectOptions()
    try:
        return _inject(data, options, path)
    except RecursionError:
        return _unchanged(
            path, data, Status.SKIPPED, "the code is nested too deeply to parse"
        )
    except SnippetError as error:
        return _unchanged(path, data, Status.FAILED, f"internal error: {error}")
    except Exception as error:
        where = traceback.extract_tb(error.__traceback__)[-1]
        detail = f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})"
        return _unchanged(path, data, Status.FAILED, f"internal error: {detail}")


def _unchanged(path: str, data: bytes, status: Status, reason: str) -> FileReport:
    return FileReport(path, status, data, data, reason=reason)


def _inject(data: bytes, options: InjectOptions, path: str) -> FileReport:
    # An entry point's training markers are in the modules it imports.
    if options.role is not Role.ENTRY and not _TRAINING_MARKERS.search(data):
        return _unchanged(
            path, data, Status.UNCHANGED, "no backward pass or optimizer step"
        )
    problem = _python_rejects(data, path)
    if problem is not None:
        return _unchanged(path, data, Status.SKIPPED, problem)
    try:
        module = cst.parse_module(data)
    except cst.ParserSyntaxError as error:
        reason = f"does not parse as Python 3 (line {error.raw_line}: {error.message})"
        return _unchanged(path, data, Status.SKIPPED, reason)
    except (UnicodeDecodeError, LookupError, SyntaxError) as error:
        return _unchanged(path, data, Status.SKIPPED, f"cannot be decoded: {error}")
    if _loses_bytes(module, data):
        reason = (
            "some of its lines would not survive the rewrite unchanged (a form"
            " feed starting a statement, CR-only line endings, or indented"
            " comments after the last statement)"
        )
        return _unchanged(path, data, Status.SKIPPED, reason)
    plan = _plan(module, data, options, path)
    clash = find_clash(plan.script, plan.imports) if plan.edits else None
    if clash is not None:
        return _unchanged(path, data, Status.SKIPPED, _clash_reason(plan, *clash))
    if plan.edits:
        return _report(plan, data, path)
    omissions = _omissions(plan, _original_lines(plan))
    report = _unchanged(path, data, Status.UNCHANGED, _why_nothing(plan, omissions))
    report.omissions = omissions
    report.framework = plan.framework
    return report


def _loses_bytes(module: cst.Module, data: bytes) -> bool:
    """Whether libcst's round trip changes the file: it drops a form feed that
    starts a statement's line, the last CR of a CR-only file, and some indented
    comments or blank lines after the last statement. Only files with such
    bytes pay for the extra code generation."""
    risky = b"\x0c" in data or data.count(b"\r") != data.count(b"\r\n")
    return (risky or _indented_tail_comment(data)) and module.bytes != data


def _indented_tail_comment(data: bytes) -> bool:
    """Whether an indented comment follows the last line of code."""
    # From the end, line by line: only the file's tail is read.
    end = len(data)
    while end > 0:
        start = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end)) + 1
        line, end = data[start:end], start - 1
        text = line.strip()
        if text and not text.startswith(b"#"):
            return False
        if text and line[:1] in (b" ", b"\t"):
            return True
    return False


def _clash_reason(plan: Plan, name: str, stmt: Stmt) -> str:
    line = render(plan.module, [], {}, [stmt.node])[2](stmt.node)
    return (
        f"the inserted code needs the name `{name}`, which line {line} binds"
        " to something else"
    )


def _original_lines(plan: Plan) -> LineOf:
    """Lines of the unchanged file, found by generating its code only when a reason
    names a line."""
    evidence = [node for o in plan.omissions for node in o.evidence]
    if not evidence:
        return lambda node: 0
    return render(plan.module, [], {}, evidence)[2]


def _omissions(plan: Plan, line_of: LineOf) -> list[Omission]:
    return [
        Omission(o.point, o.reason.format(*(line_of(n) for n in o.evidence)))
        if o.evidence
        else Omission(o.point, o.reason)
        for o in plan.omissions
    ]


def _integrates(plan: Plan, data: bytes) -> bool:
    """Whether a framework's own W&B integration took the script in hand."""
    return plan_transformers(plan, data) or plan_lightning(plan) or plan_keras(plan)


def _python_rejects(data: bytes, path: str) -> str | None:
    """Why CPython's own parser refuses the file, if it does.

    libcst's native parser can overflow the stack (and kill the process) on input
    nested deeper than CPython allows; CPython's parser stops such input safely,
    and costs a tenth of libcst's, so it goes first.
    """
    try:
        ast.parse(data, path)
    except SyntaxError as error:
        # Decoding fails before any line is read: ast reports line 0 or none.
        if not error.lineno:
            return f"cannot be decoded: {error.msg}"
        return f"does not parse as Python 3 (line {error.lineno}: {error.msg})"
    except (RecursionError, MemoryError):
        return "the code is nested too deeply to parse"
    except ValueError as error:
        return f"cannot be read as Python source: {error}"
    return None


def _plan(module: cst.Module, data: bytes, options: InjectOptions, path: str) -> Plan:
    script = scan(module)
    traced = find_traced(script, data)
    loops = find_training_loops(script, traced)
    imported: set[str] = set()
    if options.role is Role.ENTRY:
        imported = linked_names(script, path, options.links)
    trainers = trainer_functions(script, loops, imported)
    tracking = find_tracking(script, data)
    plan = Plan(path, script, options, loops, trainers, tracking, Kinds(script))
    plan.traced = traced
    plan.distribution = find_distribution(script, data)
    if tracking.integrations and not tracking.inits:
        plan.omit(
            Point.INTEGRATION, "W&B is already wired in through a framework integration"
        )
        return plan
    if not tracking.inits and _integrates(plan, data):
        if plan.edits:
            plan_imports(plan)
        return plan
    if not loops and not imported:
        plan.omit(Point.TRAIN_LOG, _no_loop_reason(options))
        return plan
    plan.framework = plan.framework or ("jax" if traced.updates else "pytorch")
    if options.role is Role.LOOP and not tracking.inits:
        _plan_logs_only(plan)
        return plan
    if plan_accelerate(plan) is False:
        return plan
    if not plan_init(plan):
        return plan
    plan_train_logs(plan)
    plan_eval_logs(plan)
    plan_finish(plan)
    plan_imports(plan)
    return plan


def _no_loop_reason(options: InjectOptions) -> str:
    if options.role is Role.ENTRY:
        modules = ", ".join(options.links) or "no module"
        return f"imports no training function from its loop modules ({modules})"
    return "no training loop: no backward pass and optimizer step in a loop"


def _plan_logs_only(plan: Plan) -> None:
    """A module whose loops belong to a run its importers start and finish."""
    starters = ", ".join(plan.options.links) or "the entry point that imports it"
    plan.omit(Point.INIT, f"the run is started by {starters}")
    plan.omit(Point.FINISH, f"the run is finished by {starters}")
    # Imported by tests or notebooks too, where no run exists.
    plan.log_condition = "wandb.run is not None"
    plan.need_import("wandb")
    plan_train_logs(plan)
    plan_eval_logs(plan)
    plan_imports(plan)


def _why_nothing(plan: Plan, omissions: list[Omission]) -> str:
    if plan.tracking.inits and not plan.edits:
        return "already tracked with W&B; nothing is missing"
    if omissions:
        return omissions[0].reason
    return "nothing to add"


def _uncompilable(plan: Plan, data: bytes, path: str, error: SyntaxError) -> FileReport:
    """The output does not compile: blame the input if it does not either."""
    try:
        compile(plan.module.code, path, "exec", dont_inherit=True)
    except SyntaxError as original:
        reason = f"does not compile (line {original.lineno}: {original.msg})"
        return _unchanged(path, data, Status.SKIPPED, reason)
    reason = f"internal error: the rewritten file would not compile ({error.msg})"
    return _unchanged(path, data, Status.FAILED, reason)


def _report(plan: Plan, data: bytes, path: str) -> FileReport:
    parse_snippets(plan.edits, plan.module)
    module, rebuilt = apply_edits(plan.module, plan.edits)
    code, insertions, line_of = render(module, plan.edits, rebuilt, _evidence(plan))
    try:
        compile(code, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        return _uncompilable(plan, data, path, error)
    omissions = _omissions(plan, line_of)
    return FileReport(
        path,
        Status.CHANGED,
        data,
        code.encode(module.encoding),
        config=_config_info(plan, line_of),
        insertions=insertions,
        omissions=omissions,
        distributed=_distributed_info(plan, line_of),
        framework=plan.framework,
    )


def _evidence(plan: Plan) -> list[cst.CSTNode]:
    """Statements whose new line numbers the report names outside the insertions."""
    nodes: list[cst.CSTNode] = [n for o in plan.omissions for n in o.evidence]
    if plan.config is not None:
        nodes.append(plan.config.stmt.node)
    if plan.distribution is not None:
        nodes.extend(s.node for s in plan.distribution.evidence)
    if plan.guard is not None:
        nodes.extend(plan.guard.evidence)
    return nodes


def _config_info(plan: Plan, line_of: LineOf) -> ConfigInfo | None:
    if not (plan.config_kind and plan.config_expression):
        return None
    line = line_of(plan.config.stmt.node) if plan.config is not None else None
    expression = " ".join(plan.config_expression.split())
    return ConfigInfo(plan.config_kind, expression, line)


def _distributed_info(plan: Plan, line_of: LineOf) -> DistributedInfo | None:
    if plan.distribution is None or plan.guard is None:
        return None
    guard = plan.guard
    return DistributedInfo(
        plan.distribution.mechanism,
        tuple(line_of(s.node) for s in plan.distribution.evidence),
        guard.code,
        FORM,
        line_of(guard.evidence[0]) if guard.evidence else None,
        tuple(guard.rejected),
    )
