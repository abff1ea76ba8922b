"""Evaluation metrics are logged under eval/, as numbers, once computed."""

from __future__ import annotations

from snippets import LOOP, inject, inserted, line_of, script

from injector import Point

EVALUATE = """\
def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(loader.dataset)
"""


def test_after_the_evaluation_call_with_the_epoch() -> None:
    body = LOOP + "    val_acc = evaluate(model, val_loader)\n"
    report = inject(script(EVALUATE + body))

    [log] = inserted(report, Point.EVAL_LOG)
    assert log.line == line_of(report, "val_acc = evaluate(") + 1
    assert log.code == 'wandb.log({"eval/acc": val_acc, "epoch": epoch})'


def test_inline_validation_printed_after_no_grad() -> None:
    body = LOOP + (
        "    model.eval()\n"
        "    total = 0.0\n"
        "    with torch.no_grad():\n"
        "        for x, y in val_loader:\n"
        "            total += criterion(model(x), y).item()\n"
        "    print(f'val loss {total / len(val_loader):.3f}')\n"
    )
    report = inject(script(body))

    [log] = inserted(report, Point.EVAL_LOG)
    assert '"eval/loss": total / len(val_loader)' in log.code


def test_a_tensor_metric_is_logged_with_item() -> None:
    evaluate = EVALUATE.replace(
        "return correct / len(loader.dataset)", "return torch.tensor(correct).float()"
    )
    report = inject(script(evaluate + LOOP + "    acc = evaluate(model, val_loader)\n"))

    [log] = inserted(report, Point.EVAL_LOG)
    assert '"eval/acc": acc.item()' in log.code


def test_a_container_of_unknown_shape_is_not_logged() -> None:
    body = LOOP + "    scores = external_metrics(model)\n    print(scores)\n"
    report = inject(script(body))

    assert not inserted(report, Point.EVAL_LOG)
    assert any(o.point is Point.EVAL_LOG for o in report.omissions)
