"""summarize: the command rebuilds a sweep's summary, rejects what is not a sweep, and leaves out,
one line each, the runs whose files hold values it cannot use.

The summary itself (rows, missing, failed and unfinished jobs, the files) is tested in
tests/stats/test_cv_summary.py; a real multirun writing it through the Hydra callback in
test_sweeps.py.
"""

from __future__ import annotations

import json
import re

from analysis_run import example_sweep, make_job, write_multirun_yaml
from helpers import run_cli

from fpam_lightning.summarize import main


def test_cli_rebuilds_and_rejects_an_empty_folder(tmp_path, capsys):
    sweep = example_sweep(tmp_path)
    proc = run_cli("fpam_lightning.summarize", str(sweep))
    assert "attention=none" in proc.stdout and (sweep / "cv_summary.md").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
    assert (
        capsys.readouterr().err
        == f"error: no job folders (results.json or .hydra/) under {empty}\n"
    )
    assert main([str(tmp_path / "absent")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'absent'} is not a folder\n"


# --- values a run folder may hold that cannot be used -------------------------------------------
BAD = {  # (attention, fold, seed) -> what its results.json holds instead, and the line it gets
    ("fpam", 1, 0): ('"test_acc": NaN', "test_acc is nan, not a finite number"),
    ("fpam", 2, 0): ('"test_acc": "72.50%"', 'test_acc "72.50%" is not a number'),
    ("fpam", 3, 0): ('"test_acc": [0.7, 0.8]', "test_acc [0.7, 0.8] is not a number"),
    ("fpam", 4, 0): ('"test_acc": -0.25', "test_acc -0.25 is negative"),
    ("fpam", 5, 0): ('"test_acc": 1.25', "test_acc 1.25 is above 1"),
    ("none", 1, 1): ('"test_acc": 72.5', "72.5 looks like a percentage: 0.725"),
    ("none", 2, 1): (
        '"test_acc": 0.7',
        "test_acc 0.7 is not a whole number of clips out of num_test 79 (nearest 55/79",
    ),
    ("none", 3, 1): (None, "is not readable JSON"),  # a write cut short
    ("none", 4, 1): ('"num_test": 0', "num_test 0 is not a positive whole number of clips"),
}


def bad_sweep(root):
    """2 configurations x 5 folds x 2 seeds; the runs of `BAD` spoilt, and one fold where the
    two sides tested different numbers of clips."""
    root.mkdir(parents=True)
    write_multirun_yaml(root, {"attention": "none,fpam", "data.fold": "1,2,3,4,5",
                               "seed": "0,1"}, [])  # fmt: skip
    n = 0
    for att in ("none", "fpam"):
        for fold in range(1, 6):
            for seed in (0, 1):
                n_test = 79 if (att, fold, seed) in (("none", 2, 1), ("fpam", 5, 1)) else 80
                right = 50 + fold + 9 * (att == "fpam") + seed
                res = {"status": "completed", "dataset": "esc10", "fold": fold, "seed": seed,
                       "test_acc": right / n_test, "num_test": n_test, "num_train": 400 - n_test,
                       "attention": att}  # fmt: skip
                job = make_job(root, n, [f"attention={att}", f"data.fold={fold}", f"seed={seed}"],
                               res)  # fmt: skip
                spoilt, _ = BAD.get((att, fold, seed), ("", ""))
                text = json.dumps(res)
                if spoilt is None:
                    text = text[: len(text) // 2]
                elif spoilt:
                    key = spoilt.split(":")[0]
                    text = re.sub(rf"{key}: [^,}}]+", spoilt, text)
                (job / "results.json").write_text(text)
                n += 1
    return root


def test_bad_values_are_one_line_each_and_left_out(tmp_path):
    sweep = bad_sweep(tmp_path / "s")
    proc = run_cli("fpam_lightning.summarize", str(sweep))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    out = proc.stdout
    assert f"**Excluded runs** ({len(BAD)}; left out of every mean and test):" in out
    excluded = [line for line in out.splitlines() if line.startswith(f"- {sweep}/")]
    assert len(excluded) == len(BAD)
    s = json.loads((sweep / "cv_summary.json").read_text())
    assert len(s["excluded"]) == len(BAD)
    by_dir = {e["job_dir"]: e["problem"] for e in s["excluded"]}
    for job in sorted(sweep.iterdir()):
        if not (job / "results.json").is_file():
            continue
        res = (job / ".hydra" / "overrides.yaml").read_text()
        att = "fpam" if "attention=fpam" in res else "none"
        fold = int(re.search(r"data.fold=(\d)", res).group(1))
        seed = int(re.search(r"seed=(\d)", res).group(1))
        if (att, fold, seed) in BAD:
            problem = by_dir[str(job)]
            assert problem.startswith(f"{job / 'results.json'}: ")
            assert BAD[(att, fold, seed)][1] in problem
            assert f"- {problem}" in excluded
    assert any(f"{len(BAD)} run(s) excluded" in n for n in s["notes"])
    rows = {r["configuration"]: r for r in s["rows"]}
    assert rows["attention=fpam"]["n_runs"] == 5 and rows["attention=none"]["n_runs"] == 6
    assert all(0 <= v <= 1 for r in rows.values() for v in r["runs"].values())
    # fold 5 seed 1: fpam tested 79 clips, none 80: not a paired difference, said on the row
    (c,) = s["comparisons"]
    assert c["difference"]["mismatched_runs"] == ["esc10/5/1: num_test 79 against 80"]
    assert "left out, tested on different numbers of clips" in out


def test_nothing_usable_is_still_a_summary_of_what_was_left_out(tmp_path):
    sweep = tmp_path / "s"
    make_job(sweep, 0, ["data.fold=1"], None)
    (sweep / "0" / "results.json").write_text('{"status": "completed", "test_acc": ')
    proc = run_cli("fpam_lightning.summarize", str(sweep))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "**Excluded runs** (1;" in proc.stdout and "is not readable JSON" in proc.stdout
