"""Bad input, measured: every case of the bad-input issue, built for real and run through the CLI.

Each case copies a tiny synthetic ESC-50-layout set (4 classes x 2 clips x 5 folds of 0.5 s at
16 kHz) into a temporary folder, damages it as the case says (a float WAV holding NaN written
with soundfile, a folder made immutable with `chattr +i`, a checkpoint of another
architecture, ...), runs `python -m fpam_lightning.<command>` as a user would, and records the
exit code, the seconds until it ended and the one line it printed. Writes a Markdown table.

    .venv/bin/python experiments/bad_input_table.py [--out experiments/results/bad_input.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "experiments" / "results" / "bad_input.md"
SYN = {"num_classes": 4, "clips_per_class_per_fold": 2, "seconds": 0.5, "sample_rate": 16000}
DATA = [
    "data=synthetic",
    "data.num_classes=4",
    "data.clip_seconds=0.5",
    "data.batch_size=8",
    "data.num_workers=0",
    *[f"data.synthetic.{k}={v}" for k, v in SYN.items()],
    "trainer=cpu",
    "logger=none",
]
TINY = [
    *DATA,
    "backbone=resnet18",
    "attention.channels=32",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
]
HELD_OUT = "1-100001-A-0.wav"  # the CSV's first row (row 2): fold 1, the held-out fold
TRAINING = "3-100017-A-0.wav"  # a clip of fold 3, a training fold when fold 1 is held out


@dataclass
class Case:
    item: str  # the item number
    what: str
    before: str  # what the issue reports for it
    build: Callable[[Path, dict], list[str]]  # -> the command line after `python -m`
    pick: str = "error:"  # the line shown: the last one starting with this (or holding it)


@dataclass
class Outcome:
    code: int
    seconds: float
    line: str
    traceback: bool
    results: str


# --- building bad input ---------------------------------------------------------------------------
def copy_data(shared: dict, work: Path) -> Path:
    root = work / "esc"
    shutil.copytree(shared["pristine"], root, ignore=shutil.ignore_patterns(".fpam_cache"))
    return root


def poison(path: Path, value: float, at: int = 320) -> None:
    """Rewrite a clip as a 32-bit float WAV with three `value` samples from sample `at`."""
    data, sr = sf.read(path, dtype="float32")
    data[at : at + 3] = value
    sf.write(path, data, sr, subtype="FLOAT")


def immutable(folder: Path) -> bool:
    """Make `folder` unwritable even for root (chmod does not bind root): chattr +i."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    try:
        with tempfile.TemporaryFile(dir=folder):
            return False
    except OSError:
        return True


def release(folder: Path) -> None:
    if folder.exists():
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        os.chmod(folder, 0o755)


def train(root: Path, run: Path, *extra: str) -> list[str]:
    return ["fpam_lightning.train", *TINY, f"data.root={root}", f"hydra.run.dir={run}", *extra]


def predict(ckpt: Path, *files: Path) -> list[str]:
    return ["fpam_lightning.predict", f"ckpt_path={ckpt}", *map(str, files)]


def evaluate(root: Path, run: Path, ckpt: Path, *extra: str) -> list[str]:
    args = [*DATA, f"data.root={root}", f"ckpt_path={ckpt}", f"hydra.run.dir={run}", *extra]
    return ["fpam_lightning.evaluate", *args]


# --- the cases ---------------------------------------------------------------------------------
def poisoned(command: str, clip: str, value: float, *extra: str) -> Callable:
    def build(work: Path, shared: dict) -> list[str]:
        root = copy_data(shared, work)
        poison(root / "audio" / clip, value)
        if command == "train":
            return train(root, work / "run", *extra)
        return evaluate(root, work / "run", shared["ckpt"], *extra)

    return build


def nan_predict(work: Path, shared: dict) -> list[str]:
    root = copy_data(shared, work)
    poison(root / "audio" / HELD_OUT, np.nan)
    return predict(shared["ckpt"], root / "audio" / HELD_OUT, root / "audio" / "1-100002-A-0.wav")


def empty_fold_skip(work: Path, shared: dict) -> list[str]:
    root = copy_data(shared, work)
    for wav in (root / "audio").glob("1-*.wav"):
        wav.write_bytes(b"")
    return train(root, work / "run", "data.on_bad_file=skip", "trainer.max_epochs=30")


def override(*settings: str) -> Callable[[Path, dict], list[str]]:
    def build(work: Path, shared: dict) -> list[str]:
        return train(shared["pristine"], work / "run", *settings)

    return build


def locked(folder: str) -> Callable[[Path, dict], list[str]]:
    """The data folder (`data`) or the run folder (`run`) made immutable."""

    def build(work: Path, shared: dict) -> list[str]:
        root = copy_data(shared, work)
        shared["locked"].append(root if folder == "data" else work / "run")
        if not immutable(shared["locked"][-1]):
            raise RuntimeError(f"cannot make {shared['locked'][-1]} unwritable")
        return train(root, work / "run")

    return build


def run_under_file(work: Path, shared: dict) -> list[str]:
    (work / "file").write_text("")
    return train(shared["pristine"], work / "file" / "run")


def resume_other(work: Path, shared: dict) -> list[str]:
    return train(shared["pristine"], work / "run", "attention=fpam", f"ckpt_path={shared['ckpt']}")


def mismatched(command: str) -> Callable[[Path, dict], list[str]]:
    def build(work: Path, shared: dict) -> list[str]:
        ckpt = shared["mismatch"]
        if command == "evaluate":
            return evaluate(shared["pristine"], work / "run", ckpt)
        if command == "predict":
            return predict(ckpt, shared["wav"])
        return ["fpam_lightning.export", f"ckpt_path={ckpt}", f"output={work / 'model.pt'}",
                "format=torchscript"]  # fmt: skip

    return build


def failed_sweep(work: Path, shared: dict) -> list[str]:
    sweep = ["data.fold=1,9", f"hydra.sweep.dir={work / 'sweep'}"]
    return ["fpam_lightning.train", "-m", *TINY, f"data.root={shared['pristine']}", *sweep]


def three_bad_skip(work: Path, shared: dict) -> list[str]:
    root = copy_data(shared, work)
    for name in ("3-100017-A-0.wav", "4-100025-A-0.wav", "5-100033-A-0.wav"):
        (root / "audio" / name).unlink()
    return evaluate(root, work / "run", shared["ckpt"], "data.on_bad_file=skip")


def stale_cache(work: Path, shared: dict) -> list[str]:
    """Build a cache, change one file, rebuild: the shared cache folder keeps one array."""
    root = copy_data(shared, work)
    first = evaluate(root, work / "first", shared["ckpt"], f"data.cache_dir={work / 'cache'}")
    subprocess.run([sys.executable, "-m", *first], cwd=REPO, capture_output=True, check=True)
    data, sr = sf.read(root / "audio" / TRAINING, dtype="float32")
    sf.write(root / "audio" / TRAINING, 0.5 * data, sr, subtype="PCM_16")
    shared["cache_dir"] = work / "cache"
    return evaluate(root, work / "run", shared["ckpt"], f"data.cache_dir={work / 'cache'}")


def bom_csv(work: Path, shared: dict) -> list[str]:
    root = copy_data(shared, work)
    csv_path = root / "meta" / "esc50.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes().replace(b"\n", b"\r\n"))
    return evaluate(root, work / "run", shared["ckpt"])


def random_ckpt(work: Path, shared: dict) -> list[str]:
    (work / "random.ckpt").write_bytes(np.random.default_rng(0).bytes(4096))
    return predict(work / "random.ckpt", shared["wav"])


CASES = [
    Case("1", "NaN WAV in the held-out fold (train)", "exit 0, completed, test_loss NaN",
         poisoned("train", HELD_OUT, np.nan)),
    Case("1", "Inf WAV in a training fold, `data.on_bad_file=skip` (train)",
         "NaN-loss stop blaming the learning rate",
         poisoned("train", TRAINING, np.inf, "data.on_bad_file=skip"), "skipping"),
    Case("1", "NaN WAV in the scored fold (evaluate)", "scored, NaN loss",
         poisoned("evaluate", HELD_OUT, np.nan)),
    Case("1", "NaN WAV among good files (predict)", "exit 0, `dog nan, ...`", nan_predict,
         ": error:"),
    Case("2", "`on_bad_file=skip`, every held-out file bad (train, 30 epochs)",
         "trains the whole run, then IndexError", empty_fold_skip),
    Case("3", "`features.n_mels=0`", "68-line traceback, exit 1", override("features.n_mels=0")),
    Case("3", "`features.n_mels=-4`", "traceback, exit 1", override("features.n_mels=-4")),
    Case("3", "`features.sample_rate=0`", "blamed on data.clip_seconds",
         override("features.sample_rate=0")),
    Case("3", "`data.clip_seconds=0`", "exit 1 via Hydra's wrapper",
         override("data.clip_seconds=0")),
    Case("3", "`backbone=tutorial_cnn features.n_mels=1` (too small for the backbone)",
         "traceback from the FLOP count",
         override("backbone=tutorial_cnn", "attention=none", "features.n_mels=1")),
    Case("4", "read-only data folder (`chattr +i`), cache beside it", "PermissionError traceback",
         locked("data")),
    Case("4", "immutable run folder (`chattr +i`)", "Hydra traceback", locked("run")),
    Case("4", "run folder under a file", "Hydra traceback", run_under_file),
    Case("5", "resume (`ckpt_path=`) an `attention=none` checkpoint with `attention=fpam`",
         "load_state_dict traceback", resume_other),
    Case("5", "checkpoint whose config says fpam, weights none (evaluate)",
         "(one line, no config named)", mismatched("evaluate")),
    Case("5", "the same checkpoint (predict)", "(one line, no config named)",
         mismatched("predict")),
    Case("5", "the same checkpoint (export)", "(one line, no config named)",
         mismatched("export")),
    Case("6", "sweep `data.fold=1,9`: one job fails", "exit 0", failed_sweep),
    Case("7", "3 missing files, `on_bad_file=skip` (evaluate)", "4 warnings a file; counted",
         three_bad_skip, "skipping"),
    Case("7", "one file changes; shared `data.cache_dir` (evaluate twice)",
         "old cache never removed", stale_cache, "removed stale"),
    Case("done", "CSV saved with a byte-order mark (evaluate)", "(fixed before)", bom_csv,
         "accuracy"),
    Case("done", "random bytes as `ckpt_path` (predict)", "(fixed before)", random_ckpt),
]  # fmt: skip


# --- running and reporting ----------------------------------------------------------------------
def shared_inputs(tmp: Path) -> dict:
    """The pristine data set, an `attention=none` checkpoint trained on it (real CLI), a copy
    whose config says fpam while its weights stay none, and one good WAV."""
    from fpam_lightning.data.synthetic import synthesize_esc50

    pristine = synthesize_esc50(tmp / "pristine", **SYN)
    run = tmp / "none"
    args = train(pristine, run, "attention=none")
    subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, check=True)
    ckpt = run / "checkpoints" / "last.ckpt"
    raw = torch.load(ckpt, weights_only=True)
    raw["hyper_parameters"]["net"]["attention"] = dict(name="fpam", levels=[3, 4, 5], channels=32)
    torch.save(raw, tmp / "mismatch.ckpt")
    return {
        "pristine": pristine,
        "ckpt": ckpt,
        "mismatch": tmp / "mismatch.ckpt",
        "wav": pristine / "audio" / "2-100009-A-0.wav",
        "locked": [],
    }


def shown_line(out: str, err: str, pick: str) -> str:
    lines = [ln for ln in (err + "\n" + out).splitlines() if ln.strip()]
    for ln in reversed(err.splitlines() if pick == "error:" else lines):
        if ln.startswith(pick) or (pick != "error:" and pick in ln):
            return ln.split("] - ", 1)[-1]  # a log line: drop the time and logger
    return (err.strip().splitlines() or ["(nothing on stderr)"])[-1]


def results_of(work: Path) -> str:
    """Each results.json the command left: its status, and the loss when completed."""
    found = []
    for path in sorted(work.rglob("results.json")):
        res = json.loads(path.read_text())
        loss = res.get("test_loss")
        note = f", test_loss {loss:.3f}" if isinstance(loss, float) else ""
        skipped = f", {res['skipped_files']} skipped" if res.get("skipped_files") else ""
        found.append(f"{res.get('status')}{note}{skipped}")
    return "; ".join(found) or "none"


def run_case(case: Case, work: Path, shared: dict) -> Outcome:
    args = case.build(work, shared)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "WANDB_MODE": "offline"},
    )
    seconds = time.perf_counter() - start
    line = shown_line(proc.stdout, proc.stderr, case.pick).replace(str(work.parent), "$TMP")
    if case.build is stale_cache:
        caches = sorted(p.name for p in shared["cache_dir"].glob("*.npy"))
        line += f" [arrays left in the cache folder: {len(caches)}]"
    if case.pick == "skipping":
        sizes = shown_line(proc.stdout, proc.stderr, "skipped of")
        line += f" [warning lines: {(proc.stdout + proc.stderr).count('skipping ')}; logged: "
        line += sizes.split(", folds")[0] + "]"
    traceback = "Traceback" in proc.stdout + proc.stderr
    return Outcome(proc.returncode, seconds, line, traceback, results_of(work))


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def git_state() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True, capture_output=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        text=True,
        capture_output=True,
    ).stdout.splitlines()
    others = ", ".join(line[3:] for line in dirty)
    return f"{head}" + (f" (the tree also held uncommitted changes to {others})" if dirty else "")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[tuple[Case, Outcome]]) -> list[str]:
    out = [
        "| item | bad input | before (issue) | exit | s | the line it ends with | "
        "traceback | results.json |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, o in rows:
        out.append(
            f"| {case.item} | {cell(case.what)} | {cell(case.before)} | {o.code} | "
            f"{o.seconds:.1f} | `{cell(o.line)}` | {'yes' if o.traceback else 'no'} | "
            f"{cell(o.results)} |"
        )
    return out


def report(rows: list[tuple[Case, Outcome]], started: str, ended: str) -> str:
    head = [
        "# Bad input: exit code, time to fail, and the one line",
        "",
        "Produced by `.venv/bin/python experiments/bad_input_table.py` (each case builds its bad "
        "input in a temporary folder and runs the real CLI; rerun it to refresh this file).",
        "",
        f"- code: git {git_state()}",
        f"- machine: {machine()}; load average (1/5/15 min) {started} at the start, {ended} at "
        "the end (a load near the core count means other work shared the CPU). Read the seconds "
        "as 'fails at start-up' (the interpreter and imports) against 'after training' (tens "
        "of s).",
        "- `$TMP` stands for the temporary folder the script works in.",
        "- data: the synthetic ESC-50 layout, 4 classes x 2 clips x 5 folds of 0.5 s at 16 kHz; "
        "ResNet18 + FPAM-32, 1 epoch on the CPU where a case trains.",
        "",
    ]
    return "\n".join(head + table(rows)) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", default="", help="comma-separated case numbers (1-based)")
    args = parser.parse_args()
    chosen = {int(i) for i in args.only.split(",") if i}
    started, rows = load(), []
    with tempfile.TemporaryDirectory(prefix="bad_input_") as tmp:
        shared = shared_inputs(Path(tmp))
        try:
            for n, case in enumerate(CASES, 1):
                if chosen and n not in chosen:
                    continue
                work = Path(tmp) / f"case{n:02d}"
                work.mkdir()
                rows.append((case, run_case(case, work, shared)))
                print(
                    f"{n:2d} exit {rows[-1][1].code} {rows[-1][1].seconds:5.1f}s  "
                    f"{rows[-1][1].line[:150]}",
                    flush=True,
                )
        finally:
            for folder in shared["locked"]:
                release(folder)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(rows, started, load()))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
