"""Cross-validation summary of a sweep: `python -m fpam_lightning.summarize SWEEP_DIR`.

Reads every job's `results.json` under a multirun folder and writes `cv_summary.json`,
`cv_summary.md` and `cv_summary.png` (a box plot of fold accuracies) beside them: one row per
configuration, one column per fold, mean ± std, and each configuration's pooled out-of-fold
predictions under `pooled/` (`analysis.summary`). Works on incomplete sweeps. A multirun writes
the same files when it ends (`analysis.summary.CVSummaryCallback`); this rebuilds them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .analysis.summary import SUMMARY_JSON, SUMMARY_MD, SUMMARY_PNG, summarize, to_markdown
from .analysis.sweep import job_dirs
from .utils.cli import argv_command
from .utils.errors import FpamError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fpam_lightning.summarize", description=__doc__.split("\n")[0]
    )
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder (logs/<exp>/multiruns/...)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        raise FpamError(f"{args.sweep_dir} is not a folder")
    if not job_dirs(args.sweep_dir):
        raise FpamError(f"no job folders (results.json or .hydra/) under {args.sweep_dir}")
    summary = summarize(args.sweep_dir)
    print(to_markdown(summary), end="")
    print(f"wrote {args.sweep_dir / SUMMARY_JSON}, {SUMMARY_MD}, {SUMMARY_PNG}")
    return 0


main = argv_command(run)

if __name__ == "__main__":
    sys.exit(main())
