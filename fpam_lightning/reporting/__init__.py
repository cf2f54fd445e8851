"""Reports of runs and sweeps: glue on top of `stats`, `inference` and `plotting`.

  fold_report      a fold's predictions.csv, per-class report and confusion matrix; several
                   folds' pooled (`write_report`, `pooled_report`)
  out_of_fold      the Lightning callback that writes each training run's fold report
  evaluation       re-score a checkpoint on a fold and write its report (`evaluate`)
  cv_report        the cross-validation summary's files: json, md, box plot, pooled reports
                   (`summarize`)
  wandb_summary    the summary as a W&B run in the sweep's group
  hydra_callbacks  how a run and a multirun end: `CommandExit`, `CVSummaryCallback`

The modules import their heavy dependencies (Matplotlib, scikit-learn, W&B) where they are used,
so that importing one (the Hydra callbacks, say) stays cheap.
"""
