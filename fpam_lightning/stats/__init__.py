"""Statistics over finished runs: no torch, no models; summaries run where no model does.

  runs          reading a sweep's job folders, their overrides and results.json
  cv_summary    the cross-validation summary as data: rows, folds, seeds, steps
  crossval      intervals and paired tests with the fold as the unit (clip counts, the
                corrected resampled t, exact Wilcoxon, d_z), Holm, McNemar and the clip vote
  compare       paired comparisons of rows (and of ablation steps)
  paper         the paper's tables beside the summary's rows
  markdown      the summary as markdown

import-linter (pyproject.toml) keeps this package free of torch, Lightning, Matplotlib and of
`training`, `models` and `data`.
"""
