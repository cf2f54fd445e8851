"""The device check: `python experiments/device/device_check.py [--rehearse] [--out DIR]`.

One prepared run for the first GPU machine available (`make device-check`, which first installs
the wheelhouse that `make wheelhouse` built). Inside a time budget (8 minutes by default) it
records the machine (GPU model, driver, CUDA, torch and package versions, a bf16 matmul rate),
runs a DDP job on every visible GPU, `bench --preset paper` (Lightning / bare loop, clips/s, the
fraction of the bf16 peak), one fold of the paper protocol (ResNet50 + FPAM, 60 epochs) and one
of the pretrained recipe (mn04 + FPAM, 25 epochs) on a small synthetic ESC-50, each
extrapolated to 5 x 1600 clips, and the tests marked `gpu`. Each step is
a real command in its own process; a step that fails or runs out of time is recorded as such
and the next one still runs. Everything lands in DIR: report.md, report.json, steps.log and the
bench's bench.json and bench.md.

`--rehearse` shrinks every size and runs the same steps on the CPU (trainer=cpu, ddp_cpu), so
the whole check is tested without a GPU (tests/test_device_check.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpam_lightning.utils.cli import argv_command, command_parser
from fpam_lightning.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
STEPS = ("environment", "ddp", "bench", "fold", "pretrained_fold", "gpu_tests")
# Per step: the most seconds it may take (the overall budget can cut it shorter).
TIMEOUTS = {"ddp": 75, "bench": 240, "fold": 150, "pretrained_fold": 150, "gpu_tests": 150}
# The fold steps' recipes: the paper's protocol, and the pretrained CPU recipe on the GPU (mn04
# as EfficientAT's architecture; the timing needs no weights, so none are carried).
FOLD_RECIPES = {"fold": "paper_fpam_esc50", "pretrained_fold": "esc50_pretrained_cpu"}
GPU_TEST_FILES = ["tests/test_gpu_path.py", "tests/data/test_device.py"]  # the `gpu`-marked ones
RESERVE_S = 5  # kept back from the budget to write the report

# The fold timing's data: a synthetic ESC-50 of (classes, clips per class per fold, seconds).
FOLD_DATA = {"gpu": (50, 2, 5.0), "rehearse": (4, 2, 0.5)}
TINY_NET = ["backbone=resnet18", "attention.channels=32"]
REHEARSE_BENCH = [
    "--preset", "cpu", "--device", "cpu", "--backbone", "tutorial_cnn", "--attention", "none",
    "--clip-seconds", "0.5", "--num-classes", "2", "--batch-size", "4", "--steps", "2",
    "--epochs", "2", "--eval-batch-size", "8", "--rounds", "1", "--num-workers", "0",
]  # fmt: skip


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    prog = "python experiments/device/device_check.py"
    ap = command_parser(prog, __doc__, f"{prog} --out device_check   ({prog} --rehearse on a CPU)")
    ap.add_argument("--out", default="device_check", help="the report folder (made if absent)")
    ap.add_argument("--rehearse", action="store_true", help="every size shrunk, on the CPU")
    ap.add_argument("--budget-s", type=float, default=450.0, help="wall-clock budget in seconds")
    ap.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {STEPS[1:]}")
    ap.add_argument("--work-dir", help="data and runs (default: a temp folder, removed after)")
    args = ap.parse_args(argv)
    unknown = set(filter(None, args.skip.split(","))) - set(STEPS[1:])
    if unknown:
        raise ConfigError(f"--skip {','.join(sorted(unknown))}: choose from {','.join(STEPS[1:])}")
    return args


class Steps:
    """Runs each step's command under the budget, logging its output to steps.log."""

    def __init__(self, out: Path, budget_s: float):
        self.out, self.deadline = out, time.monotonic() + budget_s
        self.log = out / "steps.log"
        self.log.write_text(f"device check, budget {budget_s:.0f} s: each step's output\n")
        self.results: dict[str, dict[str, Any]] = {}

    def left(self) -> float:
        return self.deadline - time.monotonic() - RESERVE_S

    def command(self, name: str, what: str, argv: list[str]) -> dict[str, Any]:
        """Run `python -m argv...`; the step's record (status, seconds, exit code)."""
        limit = min(TIMEOUTS[name], self.left())
        step: dict[str, Any] = {"what": what, "command": "python -m " + " ".join(argv)}
        self.results[name] = step
        if limit < 10:
            step["status"] = "not run: out of time"
            return step
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        start = time.monotonic()
        with open(self.log, "a") as log:
            log.write(f"\n===== {name}: {step['command']} (limit {limit:.0f} s)\n")
            log.flush()
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", *argv],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=limit,
                )
                step["exit_code"] = proc.returncode
                step["status"] = (
                    "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
                )
            except subprocess.TimeoutExpired:
                step["status"] = f"timed out after {limit:.0f} s"
        step["seconds"] = round(time.monotonic() - start, 1)
        return step


def fold_data(work: Path, rehearse: bool) -> tuple[Path, int, int]:
    """The synthetic ESC-50 the fold trains on; its (root, classes, clips per fold)."""
    from fpam_lightning.data.synthetic import synthesize_esc50

    classes, per_fold, seconds = FOLD_DATA["rehearse" if rehearse else "gpu"]
    root = work / "fold-data"
    synthesize_esc50(root, num_classes=classes, clips_per_class_per_fold=per_fold, seconds=seconds)
    return root, classes, classes * per_fold


def run_fold(steps: Steps, work: Path, rehearse: bool, name: str = "fold") -> None:
    import device_report  # beside this file; here, so that `--help` needs no torch

    root, classes, _ = fold_data(work, rehearse)
    seconds = FOLD_DATA["rehearse" if rehearse else "gpu"][2]
    run = work / name
    recipe = FOLD_RECIPES[name]
    overrides = [
        f"+experiment={recipe}",
        f"data.root={root}",
        "data.download=false",
        f"data.num_classes={classes}",
        f"data.clip_seconds={seconds}",
        "logger=csv",
        f"hydra.run.dir={run}",
    ]
    tiny = [] if name == "pretrained_fold" else TINY_NET  # mn04 is small already
    if rehearse:
        overrides += [*tiny, "trainer=cpu", "trainer.max_epochs=1", "data.num_workers=0"]
    else:
        overrides += ["trainer=gpu", "data.num_workers=8"]
        overrides += ["channels_last=true"] if name == "fold" else ["trainer.precision=auto"]
    what = f"one fold of {recipe} on synthetic data, timed and extrapolated"
    step = steps.command(name, what, ["fpam_lightning.train", *overrides])
    results = run / "results.json"
    if step["status"] == "ok" and results.exists():
        r = json.loads(results.read_text())
        step["results"] = {k: r.get(k) for k in ("test_acc", "test_loss", "epochs", "duration_s")}
        # results.json's duration: data, fit and test, without the interpreter's start-up.
        protocol = device_report.PRETRAINED if name == "pretrained_fold" else None
        step["extrapolation"] = device_report.extrapolate(
            float(r["duration_s"]),
            int(r["num_train"]),
            int(r["num_test"]),
            int(r["epochs"]),
            protocol,
        )


def run_ddp(steps: Steps, work: Path, rehearse: bool) -> None:
    import torch

    run = work / "ddp"
    data = [f"paths.data_dir={work / 'data'}", "data=synthetic", "logger=none"]
    if rehearse:
        trainer = ["trainer=ddp_cpu", "trainer.max_epochs=1", *TINY_NET]
        data += [
            "data.synthetic.num_classes=4",
            "data.num_classes=4",
            "data.synthetic.seconds=0.5",
            "data.clip_seconds=0.5",
            "data.synthetic.clips_per_class_per_fold=2",
        ]
        devices = 2
    else:
        trainer = ["trainer=ddp", "trainer.max_epochs=2", "data.num_workers=4"]
        devices = torch.cuda.device_count()
    what = f"trainer={trainer[0].split('=')[1]} on every visible device, data=synthetic"
    step = steps.command(
        "ddp", what, ["fpam_lightning.train", *data, *trainer, f"hydra.run.dir={run}"]
    )
    step["devices"] = devices
    if (run / "results.json").exists():
        r = json.loads((run / "results.json").read_text())
        step["results"] = {k: r.get(k) for k in ("status", "test_acc", "num_test", "duration_s")}


def run_bench(steps: Steps, out: Path, rehearse: bool) -> None:
    import device_report  # beside this file; here, so that `--help` needs no torch

    flags = REHEARSE_BENCH if rehearse else ["--preset", "paper"]
    what = "bench " + ("(shrunk, CPU)" if rehearse else "--preset paper")
    step = steps.command(
        "bench", what, ["fpam_lightning.bench", *flags, "--out", str(out / "bench")]
    )
    report = out / "bench.json"
    if step["status"] == "ok" and report.exists():
        step["figures"] = device_report.bench_figures(json.loads(report.read_text()))


def run_gpu_tests(steps: Steps) -> None:
    argv = ["pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *GPU_TEST_FILES]
    steps.command("gpu_tests", "the tests marked gpu (skipped without CUDA)", argv)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    import device_report  # beside this file; here, after parsing

    skip = set(filter(None, args.skip.split(",")))
    out = Path(args.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    tmp = None if args.work_dir else tempfile.mkdtemp(prefix="fpam_device_check_")
    work = Path(args.work_dir or tmp).absolute()
    started, wall = time.time(), time.monotonic()
    steps = Steps(out, args.budget_s)
    t = time.monotonic()
    env = device_report.environment()
    steps.results["environment"] = {
        "status": "ok",
        "seconds": round(time.monotonic() - t, 1),
        "what": "GPU model, driver, CUDA, torch and package versions",
    }
    try:
        if "ddp" not in skip:
            run_ddp(steps, work, args.rehearse)
        if "bench" not in skip:
            run_bench(steps, out, args.rehearse)
        for name in FOLD_RECIPES:
            if name not in skip:
                run_fold(steps, work, args.rehearse, name)
        if "gpu_tests" not in skip:
            run_gpu_tests(steps)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "command": "python experiments/device/device_check.py " + " ".join(argv),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
        "rehearse": args.rehearse,
        "budget_s": args.budget_s,
        "duration_s": round(time.monotonic() - wall, 1),
        "environment": env,
        "steps": {name: steps.results.get(name, {"status": "skipped (--skip)"}) for name in STEPS},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(device_report.markdown(report))
    print((out / "report.md").read_text())
    failed = [
        n for n, s in report["steps"].items() if s["status"] not in ("ok", "skipped (--skip)")
    ]
    return 1 if failed else 0


main = argv_command(run)

if __name__ == "__main__":
    sys.exit(main())
