"""Cross-validation summary: `python -m fpam_lightning.summarize SWEEP_DIR ... [--out DIR]`.

Reads every job's `results.json` under the multirun folders and writes `cv_summary.json`,
`cv_summary.md` and `cv_summary.png` (a box plot of fold accuracies): one row per
configuration, one column per fold (seeds averaged), mean ± std with a 95 % interval, paired
comparisons of rows that differ in one setting, the paper's tables where the rows allow, and
each configuration's pooled out-of-fold predictions under `pooled/` (`reporting.cv_report`).
Several sweeps join into one report (paired by data set, fold and seed), written to `--out`
(default: the first folder); with `--steps` they are the steps of a cumulative ablation
(baseline, then one part added per sweep), each compared with the step before. Works on
incomplete sweeps. A multirun writes the same files when it ends
(`reporting.hydra_callbacks.CVSummaryCallback`); this rebuilds them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .utils.cli import argv_command, command_parser
from .utils.errors import FpamError


def run(argv: list[str]) -> int:
    prog = "python -m fpam_lightning.summarize"
    parser = command_parser(prog, __doc__, f"{prog} logs/quickstart/multiruns/TIME")
    parser.add_argument(
        "sweep_dirs", type=Path, nargs="+", help="multirun folders (logs/<exp>/multiruns/...)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: first)")
    parser.add_argument(
        "--steps",
        action="store_true",
        help="the sweeps are the steps of a cumulative ablation, in this order (one "
        "configuration each): compare each with the one before, and the last with the first",
    )
    args = parser.parse_args(argv)
    from .reporting.cv_report import SUMMARY_JSON, SUMMARY_MD, SUMMARY_PNG, summarize
    from .stats.markdown import to_markdown
    from .stats.runs import job_dirs

    for d in args.sweep_dirs:
        if not d.is_dir():
            raise FpamError(f"{d} is not a folder")
        if not job_dirs(d):
            raise FpamError(f"no job folders (results.json or .hydra/) under {d}")
    out = args.out or args.sweep_dirs[0]
    summary = summarize(args.sweep_dirs, out, steps=args.steps)
    print(to_markdown(summary), end="")
    print(f"wrote {out / SUMMARY_JSON}, {SUMMARY_MD}, {SUMMARY_PNG}")
    return 0


main = argv_command(run)

if __name__ == "__main__":
    sys.exit(main())
