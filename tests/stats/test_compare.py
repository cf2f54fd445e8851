"""Seeds, intervals, paired comparisons and the paper's tables, on sweeps whose answer is known.

Each sweep is written by hand as Hydra leaves it (results.json and predictions.csv per job), with
accuracies chosen so that one difference must come out significant and another must not.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from analysis_run import make_job, write_multirun_yaml
from helpers import run_cli

from fpam_lightning.reporting.cv_report import summarize
from fpam_lightning.stats.paper import paper_accuracy

FOLDS, SEEDS = (1, 2, 3, 4, 5), (0, 1, 2)


def result(dataset: str, attention: str, fold: int, seed: int, acc: float, mixup=False) -> dict:
    """results.json as training writes it: the accuracy of whole clips out of one fold's 80
    (stored as float32), and the fold's clip counts."""
    return {
        "status": "completed", "dataset": dataset, "fold": fold, "seed": seed,
        "test_acc": float(np.float32(round(acc * 80) / 80)), "num_test": 80, "num_train": 320,
        "backbone": "resnet50", "attention": attention, "variant": "paper", "mixup": mixup,
    }  # fmt: skip


def predictions(job: Path, dataset: str, fold: int, correct: list[bool]) -> None:
    """predictions.csv as training writes it: every clip of class `a`, right or not."""
    cols = ["file", "fold", "target", "true_class", "predicted", "predicted_class", "correct"]
    with open(job / "predictions.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*cols, "prob_a", "prob_b"])
        w.writeheader()
        for i, c in enumerate(correct):
            w.writerow(
                {"file": f"{dataset}/{fold}-{i}.wav", "fold": fold, "target": 0,
                 "true_class": "a", "predicted": 0 if c else 1,
                 "predicted_class": "a" if c else "b", "correct": int(c),
                 "prob_a": 0.9 if c else 0.1, "prob_b": 0.1 if c else 0.9}
            )  # fmt: skip


def sweep_of(root: Path, name: str, configs: dict[str, dict], dataset: str = "esc10") -> Path:
    """configs: "k=v k2=v2" -> {"attention", "mixup", "acc": fn(fold, seed), "right": n of 20}."""
    sweep = root / name
    sweep.mkdir(parents=True)
    values: dict[str, list[str]] = {}
    for config in configs:
        for o in config.split():
            k, v = o.split("=")
            values.setdefault(k, []).append(v) if v not in values.get(k, []) else None
    params = {k: ",".join(v) for k, v in values.items() if len(v) > 1}
    write_multirun_yaml(sweep, {**params, "seed": "0,1,2", "data.fold": "1,2,3,4,5"}, [])
    n = 0
    for config, c in configs.items():
        for seed in SEEDS:
            for fold in FOLDS:
                acc = c["acc"](fold, seed)
                job = make_job(
                    sweep, n, [*config.split(), f"seed={seed}", f"data.fold={fold}"],
                    result(dataset, c["attention"], fold, seed, acc, c.get("mixup", False)),
                )  # fmt: skip
                predictions(job, dataset, fold, [i < c["right"] for i in range(20)])
                n += 1
    return sweep


def noise(fold: int, seed: int) -> float:
    return float(np.random.default_rng(100 * fold + seed).normal(0, 0.01))


BASE = {"attention": "none", "acc": lambda f, s: 0.70 + 0.03 * f + noise(f, s), "right": 10}
# +10 to +14 points (8 to 11 clips of 80) on every fold and seed: a gain no test can miss.
# (+5 points, 4 clips a fold, is not resolved by 5 folds once each fold carries its clips'
# variance and Holm counts three comparisons: the smallest real difference is about 10 points.)
BETTER = {
    "attention": "fpam",
    "acc": lambda f, s: 0.85 + 0.02 * f + noise(f, s) + noise(f, s + 10) / 2,
    "right": 19,
}
# The same mean as BASE, shuffled by fold: no real difference.
SAME = {
    "attention": "pyramid",
    "acc": lambda f, s: 0.70 + 0.03 * f + (0.02 if (f + s) % 2 else -0.02) + noise(f, s),
    "right": 11,
}


def test_seeds_are_an_axis_and_rows_carry_intervals(tmp_path):
    sweep = sweep_of(tmp_path, "s", {"attention=none": BASE})
    (row,) = summarize(sweep)["rows"]
    assert row["seeds"] == [0, 1, 2] and row["n_runs"] == 15 and row["n_completed"] == 5
    per_fold = [np.mean([round(BASE["acc"](f, s) * 80) / 80 for s in SEEDS]) for f in FOLDS]
    assert [row["folds"][str(f)] for f in FOLDS] == pytest.approx(per_fold)
    assert row["mean"] == pytest.approx(np.mean(per_fold))
    assert row["std"] == pytest.approx(np.std(per_fold, ddof=1))
    iv = row["interval"]
    assert iv["low"] < row["mean"] < iv["high"] and iv["n"] == 5


def test_a_real_gain_is_significant_and_noise_is_not(tmp_path):
    sweep = sweep_of(
        tmp_path, "s", {"attention=none": BASE, "attention=pyramid": SAME, "attention=fpam": BETTER}
    )
    s = summarize(sweep)
    comps = {(c["candidate"], c["reference"]): c for c in s["comparisons"]}
    gain = comps[("attention=fpam", "attention=none")]  # none is first in attention=none,...
    # 5 folds x 3 seeds pair as 5 folds (each fold's seeds averaged), Holm across the three
    assert gain["paired"] and gain["difference"]["n"] == 5 and gain["family_size"] == 3
    assert gain["difference"]["mean"] == pytest.approx(0.12, abs=0.005)
    assert gain["difference"]["significant"] is True and gain["difference"]["corrected"]["low"] > 0
    assert gain["difference"]["p_holm"] >= gain["difference"]["corrected"]["p"]
    assert [t["seed"] for t in gain["mcnemar"]] == [0, 1, 2]
    assert all(t["p_value"] < 0.05 and t["candidate_only"] == 9 * 5 for t in gain["mcnemar"])
    same = comps[("attention=pyramid", "attention=none")]
    assert same["difference"]["significant"] is False
    corrected = same["difference"]["corrected"]
    assert corrected["low"] < 0 < corrected["high"]
    assert all(t["p_value"] >= 0.05 for t in same["mcnemar"])  # 1 clip of 20 per fold
    md = (sweep / "cv_summary.md").read_text()
    assert "Paired comparisons" in md and "| attention=fpam | attention=none | +11.8 |" in md


def test_sweeps_on_different_data_sets_are_never_paired(tmp_path):
    a = sweep_of(tmp_path, "a", {"attention=fpam": BETTER}, dataset="esc10")
    b = sweep_of(tmp_path, "b", {"attention=none": BASE}, dataset="esc50")
    (c,) = summarize([a, b], tmp_path / "joined")["comparisons"]
    assert c["paired"] is False and "different data sets (esc50 against esc10)" in c["reason"]
    assert "difference" not in c
    assert "not paired: different data sets" in (tmp_path / "joined" / "cv_summary.md").read_text()


def test_separate_sweeps_join_and_render_table_2_with_the_papers_numbers(tmp_path):
    fpam = sweep_of(tmp_path, "fpam", {"+experiment=paper_fpam_esc10": BETTER})
    base = sweep_of(tmp_path, "base", {"+experiment=paper_baseline_esc10": BASE})
    out = tmp_path / "joined"
    proc = run_cli("fpam_lightning.summarize", str(fpam), str(base), "--out", str(out))
    assert "Table 2" in proc.stdout
    s = json.loads((out / "cv_summary.json").read_text())
    (table,) = [t for t in s["paper_tables"] if t["title"].startswith("Table 2")]
    assert table["datasets"] == ["esc10"]
    baseline, with_fpam = table["rows"]
    assert baseline["paper"] == [paper_accuracy("none", False, "esc10")] == [97.0]
    assert with_fpam["paper"] == [99.3] and with_fpam["paper_delta"] == [pytest.approx(2.3)]
    delta = with_fpam["delta"][0]
    assert delta["paired"] and delta["difference"]["significant"] is True
    assert delta["difference"]["mean"] == pytest.approx(0.12, abs=0.005)
    assert "| resnet50 + FPAM |" in (out / "cv_summary.md").read_text()


def test_table_3_attention_by_mixup(tmp_path):
    configs = {
        "attention=none": BASE,
        "attention=fpam": BETTER,
    }
    sweep = tmp_path / "t3"
    for mixup in ("off", "on"):
        sweep_of(
            sweep, mixup,
            {f"{k} mixup={mixup}": {**v, "mixup": mixup == "on"} for k, v in configs.items()},
        )  # fmt: skip
    s = summarize([sweep / "off", sweep / "on"], sweep)
    (t3,) = [t for t in s["paper_tables"] if t["title"].startswith("Table 3")]
    assert [r["model"] for r in t3["rows"]] == [
        "resnet50 baseline", "resnet50 baseline + mixup", "resnet50 + FPAM",
        "resnet50 + FPAM + mixup",
    ]  # fmt: skip
    assert [r["paper"][0] for r in t3["rows"]] == [97.0, 95.7, 99.3, 98.5]
    assert t3["rows"][0]["delta"] == [None]  # the reference row


def test_a_cumulative_ablation_compares_each_step_with_the_one_before(tmp_path):
    # Three sweeps, each adding a part: several keys change per step, so no pair differs in one.
    base = sweep_of(tmp_path, "0_baseline", {"optim=sgd scheduler=step mixup=off gain=0": BASE})
    same = {**SAME, "right": 10}
    plus = sweep_of(tmp_path, "1_optim", {"optim=adamw scheduler=cosine mixup=off gain=0": same})
    full = sweep_of(tmp_path, "2_mixup", {"optim=adamw scheduler=cosine mixup=on gain=6": BETTER})
    out = tmp_path / "ablation"
    proc = run_cli(
        "fpam_lightning.summarize", str(base), str(plus), str(full), "--steps", "--out", str(out)
    )
    assert "each step against the one before" in proc.stdout
    s = json.loads((out / "cv_summary.json").read_text())
    assert s["design"] == "steps"
    assert [r["configuration"] for r in s["rows"]] == ["0_baseline", "1_optim", "2_mixup"]
    pairs = [(c["candidate"], c["reference"], c["key"]) for c in s["comparisons"]]
    assert pairs == [
        ("1_optim", "0_baseline", "step"),
        ("2_mixup", "1_optim", "step"),
        ("2_mixup", "0_baseline", "all steps"),
    ]
    first, second, overall = s["comparisons"]
    assert first["difference"]["significant"] is False  # SAME: shuffled noise
    assert overall["difference"]["significant"] is True
    assert overall["difference"]["mean"] == pytest.approx(0.12, abs=0.005)
    assert second["mcnemar"][0]["candidate_only"] == 9 * 5  # 19 right against 10, per fold
    without = summarize([base, plus, full], tmp_path / "plain")
    assert without["comparisons"] == []  # read as a grid, no two rows differ in one key


def test_steps_refuse_a_sweep_of_several_configurations(tmp_path):
    grid = sweep_of(tmp_path, "grid", {"attention=none": BASE, "attention=fpam": BETTER})
    other = sweep_of(tmp_path, "other", {"attention=pyramid": SAME})
    proc = run_cli("fpam_lightning.summarize", str(grid), str(other), "--steps", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: a step is one configuration (folds and seeds only), but {grid} holds 2 with "
        "finished jobs"
    )
