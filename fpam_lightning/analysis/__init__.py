"""What the analysis commands and callbacks share: scoring, reports, figures and sweep summaries.

One concern per module; commands (`evaluate`, `predict`, `export`, `figures`, `summarize`) parse
their arguments, call these and report, and the training callbacks use the same functions.

  scoring        one pass over a loader: probabilities, targets, pooled features (`score`)
  reports        predictions.csv and the other per-run files: rows, CSV, per-class report,
                 confusion matrix, embeddings.npz, readers, the pooled out-of-fold report
  plots          Matplotlib drawing: confusion, t-SNE, attention, curves, box; `save`
  attention      the spatial attention maps of chosen clips (`explain`), drawn by `plots`
  run_figures    each figure drawn from a run's files (the `figures` sub-commands)
  evaluation     re-score a checkpoint on a fold and write its report (`evaluate`)
  inference      classify audio files of any length, rate and channel count (`predict`)
  model_export   a checkpoint as a waveform-in, logits-out ONNX or TorchScript model (`export`)
  sweep          reading a sweep's job folders, their overrides and results.json
  summary        the cross-validation summary of a sweep (`summarize`, `CVSummaryCallback`)

Statistics over a summary's rows (confidence intervals, paired tests, paper tables) belong in
sibling modules (`stats`), fed by each row's folds and `job_dirs`.

The modules import their heavy dependencies (Matplotlib, scikit-learn, W&B) where they are used,
so that importing one (the Hydra callback, say) stays cheap.
"""
