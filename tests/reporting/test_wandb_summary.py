"""The W&B summary's comparisons table carries the headline test, Holm and the verdict rule."""

from __future__ import annotations

import numpy as np
from analysis_run import make_job, write_multirun_yaml

from fpam_lightning.reporting.cv_report import summarize
from fpam_lightning.reporting.wandb_summary import VERDICT_COLUMNS, _wandb_verdicts
from fpam_lightning.stats.crossval import VERDICT_RULE


def test_the_comparisons_table_has_the_corrected_p_holm_and_the_verdict(tmp_path):
    write_multirun_yaml(tmp_path, {"attention": "none,fpam", "data.fold": "1,2,3,4,5"}, [])
    rng = np.random.default_rng(0)
    n = 0
    for att, shift in (("none", 0), ("fpam", 4)):
        for fold in range(1, 6):
            right = 50 + fold + shift + int(rng.integers(-2, 3))
            res = {"status": "completed", "dataset": "esc10", "fold": fold, "seed": 0,
                   "test_acc": right / 80, "num_test": 80, "num_train": 320,
                   "attention": att}  # fmt: skip
            make_job(tmp_path, n, [f"attention={att}", f"data.fold={fold}"], res)
            n += 1
    s = summarize(tmp_path)
    (c,) = s["comparisons"]
    out = _wandb_verdicts(s)
    table = out["comparisons"]
    assert table.columns == VERDICT_COLUMNS
    row = dict(zip(VERDICT_COLUMNS, table.data[0], strict=True))
    d = c["difference"]
    assert row["p_corrected"] == d["corrected"]["p"] and row["p_holm"] == d["p_holm"]
    assert row["n_folds"] == 5 and row["significant"] is d["significant"]
    assert VERDICT_RULE in out["verdict"].html and "Holm p" in out["verdict"].html
