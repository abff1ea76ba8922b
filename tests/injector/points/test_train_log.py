"""The training log: after the update, as numbers, spaced out, with a step."""

from __future__ import annotations

from snippets import LOOP, inject, inserted, line_of, script

from injector import DEFAULT_LOG_EVERY, Point


def test_after_the_update_every_n_steps_with_a_derived_step() -> None:
    report = inject(script(LOOP), log_every=25)

    [log] = inserted(report, Point.TRAIN_LOG)
    assert log.line == line_of(report, "optimizer.step()") + 1
    assert log.code.startswith("if step % 25 == 0:")
    assert '"train/loss": loss.item()' in log.code
    assert '"train/lr": optimizer.param_groups[0]["lr"]' in log.code
    assert "step=epoch * len(loader) + step" in log.code


def test_beside_the_scripts_own_report_with_its_values() -> None:
    body = LOOP + (
        "        if step % args.log_interval == 0:\n"
        "            lossf = loss.item()\n"
        "            print(f'step {step} loss {lossf:.3f}')\n"
    )
    report = inject(script(body))

    [log] = inserted(report, Point.TRAIN_LOG)
    assert log.line == line_of(report, "print(f'step") + 1
    assert '"train/loss": lossf' in log.code
    assert not log.code.startswith("if ")


def test_a_loss_already_turned_into_a_float_gets_no_item() -> None:
    body = LOOP.replace(
        "loss.backward()\n", "loss.backward()\n        loss = loss.item()\n"
    )
    report = inject(script(body))

    [log] = inserted(report, Point.TRAIN_LOG)
    assert '"train/loss": loss,' in log.code or '"train/loss": loss}' in log.code
    assert "loss.item()" not in log.code


def test_gradient_accumulation_logs_once_per_update() -> None:
    body = """\
for epoch in range(args.epochs):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / args.accum
        loss.backward()
        if (i + 1) % args.accum == 0:
            optimizer.step()
            optimizer.zero_grad()
"""
    report = inject(script(body), log_every=10)

    [log] = inserted(report, Point.TRAIN_LOG)
    assert log.line == line_of(report, "optimizer.zero_grad()") + 1
    assert log.code.startswith("if (i + 1) // args.accum % 10 == 0:")
    assert '"train/loss": loss.item() * args.accum' in log.code


def test_no_counter_in_the_script_gets_one_of_its_own() -> None:
    body = """\
for epoch in range(args.epochs):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
"""
    report = inject(script(body))

    counter, log = inserted(report, Point.TRAIN_LOG)
    assert counter.code == "wandb_step = 0"
    assert counter.line < line_of(report, "for epoch in")
    every = DEFAULT_LOG_EVERY
    assert log.code.startswith(f"wandb_step += 1\nif wandb_step % {every} == 0:")


def test_an_optimizer_out_of_scope_is_not_used_for_lr() -> None:
    source = script("") + (
        "def train(model, loader):\n"
        "    for i, (x, y) in enumerate(loader):\n"
        "        loss = model(x, y)\n"
        "        loss.backward()\n"
        "        model.opt.step()\n"
        "train(model, loader)\n"
    )
    report = inject(source)

    [log] = inserted(report, Point.TRAIN_LOG)
    assert "train/lr" in log.code
    assert "model.opt.param_groups" in log.code
    assert "optimizer.param_groups" not in log.code


def test_existing_wandb_log_means_no_train_log() -> None:
    source = script(LOOP + "        wandb.log({'loss': loss.item()})\n")
    source = source.replace("import torch\n", "import torch\nimport wandb\n", 1)
    source += "wandb.init()\n"

    report = inject(source)

    assert not inserted(report, Point.TRAIN_LOG)


def test_a_warm_up_backward_outside_the_loop_is_not_a_training_step() -> None:
    body = "warm = model(x0).sum()\nwarm.backward()\n" + LOOP
    report = inject(script(body))

    [log] = inserted(report, Point.TRAIN_LOG)
    assert log.line > line_of(report, "for epoch in")
    assert "warm" not in log.code
