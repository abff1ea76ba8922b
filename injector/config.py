"""Where a script builds its configuration, and an expression that captures it all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from injector._matchers import (
    assigned_names,
    call_name,
    dotted,
    method_name,
    positional_args,
    receiver,
    small_statements,
)
from injector.script import Scope, Script, Stmt

# Most complete first: when a script has several, the earlier kind describes the run.
KIND_ORDER = (
    "hf_argparser",
    "argparse",
    "hydra",
    "omegaconf",
    "dataclass",
    "dict",
    "collected",
)
_CONFIG_NAME = re.compile(
    r"^(args|opts?|options|hp|hparams|hyper_?param(eter)?s|params|flags)$"
    r"|conf(ig)?|cfg|settings",
    re.IGNORECASE,
)
HYPERPARAMETER = re.compile(
    r"(^|_)(lr|learning_rate|batch|batch_size|bs|epochs?|n_epochs|num_epochs|seed|"
    r"hidden|hidden_size|hidden_dim|dim|d_model|embed\w*|n_embd|layers?|n_layers?|"
    r"num_layers|heads?|n_heads?|num_heads|dropout|weight_decay|wd|momentum|betas?|"
    r"beta1|beta2|eps|warmup\w*|steps|max_steps|iters|max_iters|iterations|"
    r"grad_clip|clip\w*|max_norm|accum\w*|block_size|context_length|seq_len|"
    r"gamma|lambda|temperature|patience|decay\w*|lr_\w+|image_size|img_size|"
    r"num_classes|latent\w*|nz|ngf|ndf|channels)($|_)",
    re.IGNORECASE,
)
_LOADERS = re.compile(
    r"^(yaml\.(safe_load|load|full_load|unsafe_load)|json\.loads?|toml\.loads?|"
    r"tomllib\.loads?|tomli\.loads?)$"
)
_DATACLASS_PARSERS = re.compile(
    r"^(tyro\.cli|simple_parsing\.parse|pyrallis\.parse|draccus\.parse|"
    r"jsonargparse\.CLI|CLI)$"
)
_HF_PARSE = ("parse_args_into_dataclasses", "parse_json_file", "parse_yaml_file")
_HF_PARSE_DICT = "parse_dict"


@dataclass(eq=False)
class ConfigSite:
    """A statement that binds the configuration, and how to pass it to `wandb.init`."""

    kind: str
    stmt: Stmt
    names: list[str]
    expression: str
    imports: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def scope(self) -> Scope:
        return self.stmt.scope


def _assignment(stmt: Stmt) -> tuple[list[str], cst.BaseExpression] | None:
    node = stmt.node
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    small = node.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target = small.target
    else:
        return None
    names = assigned_names(target)
    value = small.value
    if not names or value is None:
        return None
    if isinstance(target, cst.Name):
        return names, value
    return (names if isinstance(target, cst.Tuple | cst.List) else []), value


def dataclass_names(script: Script) -> set[str]:
    """Classes in this module decorated as dataclasses."""
    found: set[str] = set()
    for stmt in script.statements:
        node = stmt.node
        if isinstance(node, cst.ClassDef):
            for decorator in node.decorators:
                expression = decorator.decorator
                if isinstance(expression, cst.Call):
                    expression = expression.func
                if (dotted(expression) or "").endswith("dataclass"):
                    found.add(node.name.value)
    return found


def _parsed_args_position(script: Script, scope: Scope) -> int | None:
    """Where a function's return value holds the `parse_args()` namespace.

    0 for the value itself, k for element k of a returned tuple, None if it doesn't.
    """
    parsed: set[str] = set()
    for stmt in script.in_scope(scope):
        assignment = _assignment(stmt)
        if assignment and _is_parse_call(assignment[1]):
            parsed.update(assignment[0][:1])
        for small in small_statements(stmt.node):
            if not isinstance(small, cst.Return) or small.value is None:
                continue
            values = [small.value]
            if isinstance(small.value, cst.Tuple):
                values = [e.value for e in small.value.elements]
            for position, value in enumerate(values):
                if _is_parse_call(value) or dotted(value) in parsed:
                    return position
    return None


def _is_parse_call(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Call) and method_name(value) in (
        "parse_args",
        "parse_known_args",
        "parse_intermixed_args",
    )


class _Finder:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.dataclasses = dataclass_names(script)
        self.parser_helpers: dict[str, int] = {}
        for name, scopes in script.functions.items():
            position = _parsed_args_position(script, scopes[-1])
            if position is not None:
                self.parser_helpers[name] = position
        self.hf_parsers = self._hf_parsers()
        self.omegaconf = _omegaconf_name(script)

    def _hf_parsers(self) -> dict[str, int]:
        parsers: dict[str, int] = {}
        for stmt in self.script.statements:
            assignment = _assignment(stmt)
            if not assignment or not isinstance(assignment[1], cst.Call):
                continue
            call = assignment[1]
            if (call_name(call) or "").endswith("HfArgumentParser"):
                args = positional_args(call)
                count = (
                    len(args[0].elements)
                    if args and isinstance(args[0], cst.Tuple | cst.List)
                    else 1
                )
                parsers[assignment[0][0]] = count
        return parsers

    def sites(self) -> Iterator[ConfigSite]:
        for stmt in self.script.statements:
            if isinstance(stmt.node, cst.FunctionDef):
                site = self._hydra(stmt)
            else:
                site = self._assignment_site(stmt) or self._passed_parse(stmt)
            if site is not None:
                yield site

    def _passed_parse(self, stmt: Stmt) -> ConfigSite | None:
        """`train(parser.parse_args())`: the namespace is the function's parameter."""
        for call in stmt.calls:
            func = call.func
            if (
                not isinstance(func, cst.Name)
                or func.value not in self.script.functions
            ):
                continue
            for position, arg in enumerate(positional_args(call)):
                if _is_parse_call(arg):
                    scope = self.script.functions[func.value][-1]
                    definition = self._definition(scope)
                    if definition is not None and position < len(scope.params):
                        name = scope.params[position]
                        return ConfigSite(
                            "argparse", definition, [name], f"vars({name})"
                        )
        return None

    def _definition(self, scope: Scope) -> Stmt | None:
        return next((s for s in self.script.statements if s.node is scope.node), None)

    def _assignment_site(self, stmt: Stmt) -> ConfigSite | None:
        assignment = _assignment(stmt)
        if assignment is None or not assignment[0]:
            return None
        names, value = assignment
        if isinstance(value, cst.DictComp) and len(names) == 1:
            if _CONFIG_NAME.search(names[0]) and not names[0].endswith("kwargs"):
                return ConfigSite("dict", stmt, names, names[0])
        if not isinstance(value, cst.Call | cst.Dict):
            return None
        if isinstance(value, cst.Dict):
            return self._dict_literal(stmt, names, value)
        called = call_name(value) or ""
        method = method_name(value) or ""
        if method in _HF_PARSE or method == _HF_PARSE_DICT:
            return self._hf(stmt, names, value)
        if _is_parse_call(value):
            return self._argparse(stmt, names, method)
        if called in self.parser_helpers and not receiver(value):
            position = self.parser_helpers[called]
            if position < len(names) and (position == 0 or len(names) > 1):
                name = names[position]
                return ConfigSite("argparse", stmt, [name], f"vars({name})")
            return None
        if (
            self.omegaconf
            and called.startswith(self.omegaconf + ".")
            and method
            in (
                "load",
                "create",
                "merge",
                "structured",
                "from_cli",
                "unsafe_merge",
            )
        ):
            return self._single(stmt, names, "omegaconf", self._to_container(names[0]))
        if called in self.dataclasses or _DATACLASS_PARSERS.match(called):
            if called.startswith("jsonargparse") or called == "CLI":
                return None
            return self._dataclass(stmt, names)
        if _LOADERS.match(called) and _CONFIG_NAME.search(names[0]) and len(names) == 1:
            return ConfigSite("dict", stmt, names, names[0])
        if called == "dict" and len(names) == 1 and _looks_configured(value, names[0]):
            return ConfigSite("dict", stmt, names, names[0])
        return None

    def _single(
        self, stmt: Stmt, names: list[str], kind: str, expression: str
    ) -> ConfigSite | None:
        if len(names) != 1:
            return None
        imports: list[tuple[str, str | None]] = []
        if kind in ("omegaconf", "hydra") and not self.omegaconf:
            imports.append(("omegaconf", "OmegaConf"))
        return ConfigSite(kind, stmt, names, expression, imports)

    def _to_container(self, name: str) -> str:
        owner = self.omegaconf or "OmegaConf"
        return f"{owner}.to_container({name}, resolve=True)"

    def _argparse(self, stmt: Stmt, names: list[str], method: str) -> ConfigSite:
        node = stmt.node
        assert isinstance(node, cst.SimpleStatementLine)
        small = node.body[0]
        target = small.targets[0].target if isinstance(small, cst.Assign) else None
        if method == "parse_known_args" and isinstance(target, cst.Name):
            return ConfigSite("argparse", stmt, names, f"vars({names[0]}[0])")
        return ConfigSite("argparse", stmt, names[:1], f"vars({names[0]})")

    def _hf(self, stmt: Stmt, names: list[str], call: cst.Call) -> ConfigSite | None:
        parser = dotted(receiver(call))
        if parser not in self.hf_parsers:
            return None
        count = self.hf_parsers[parser]
        if len(names) == 1 and count > 1:
            expression = (
                f"{{key: value for part in {names[0]}[:{count}] "
                "for key, value in dataclasses.asdict(part).items()}"
            )
        else:
            parts = ", ".join(f"**dataclasses.asdict({n})" for n in names[:count])
            expression = (
                f"{{{parts}}}" if count > 1 else f"dataclasses.asdict({names[0]})"
            )
        return ConfigSite(
            "hf_argparser", stmt, names[:count], expression, [("dataclasses", None)]
        )

    def _dataclass(self, stmt: Stmt, names: list[str]) -> ConfigSite | None:
        if len(names) != 1:
            return None
        return ConfigSite(
            "dataclass",
            stmt,
            names,
            f"dataclasses.asdict({names[0]})",
            [("dataclasses", None)],
        )

    def _dict_literal(
        self, stmt: Stmt, names: list[str], value: cst.Dict
    ) -> ConfigSite | None:
        if len(names) != 1 or not _looks_configured(value, names[0]):
            return None
        return ConfigSite("dict", stmt, names, names[0])

    def _hydra(self, stmt: Stmt) -> ConfigSite | None:
        node = stmt.node
        assert isinstance(node, cst.FunctionDef)
        if not any(_is_hydra_main(d.decorator) for d in node.decorators):
            return None
        params = node.params.params
        if not params or not node.body.body:
            return None
        name = params[0].name.value
        return self._single(stmt, [name], "hydra", self._to_container(name))


def _is_hydra_main(decorator: cst.BaseExpression) -> bool:
    if isinstance(decorator, cst.Call):
        decorator = decorator.func
    return dotted(decorator) in ("hydra.main", "main") and (
        dotted(decorator) == "hydra.main" or isinstance(decorator, cst.Name)
    )


def _looks_configured(value: cst.Dict | cst.Call, name: str) -> bool:
    """A dict literal that holds hyperparameters, or is named like a config."""
    keys: list[str] = []
    if isinstance(value, cst.Dict):
        for element in value.elements:
            if isinstance(element, cst.DictElement) and isinstance(
                element.key, cst.SimpleString
            ):
                keys.append(element.key.evaluated_value.__str__())
    else:
        keys = [a.keyword.value for a in value.args if a.keyword is not None]
    if not keys:
        return False
    hyper = sum(1 for k in keys if HYPERPARAMETER.search(k))
    named = bool(_CONFIG_NAME.search(name)) and not name.endswith("kwargs")
    return (named and hyper >= 1) or hyper >= 3


def _omegaconf_name(script: Script) -> str | None:
    """How the module refers to OmegaConf, if it imports it at the top level."""
    for stmt in script.in_scope(script.module_scope):
        node = stmt.node
        if not isinstance(node, cst.SimpleStatementLine):
            continue
        for small in node.body:
            if (
                isinstance(small, cst.ImportFrom)
                and dotted(small.module) == "omegaconf"
            ):
                if isinstance(small.names, cst.ImportStar):
                    return "OmegaConf"
                for alias in small.names:
                    if dotted(alias.name) == "OmegaConf":
                        asname = alias.asname
                        if asname is not None and isinstance(asname.name, cst.Name):
                            return asname.name.value
                        return "OmegaConf"
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if dotted(alias.name) == "omegaconf" and alias.asname is None:
                        return "omegaconf.OmegaConf"
    return None


def find_config_sites(script: Script) -> list[ConfigSite]:
    return list(_Finder(script).sites())
