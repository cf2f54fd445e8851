"""All figure code: Matplotlib drawing, attention maps, the `figures` commands and the callback.

  plots        confusion, t-SNE, attention, curves, box; `save`
  attention    the spatial attention maps of chosen clips (`explain_clips`), drawn by `plots`
  run_figures  each figure drawn from a run's files (the `figures` sub-commands, cv_summary.png)
  callbacks    `FigureLogger`: the figures of the held-out fold at chosen epochs while training

Matplotlib is imported by `plots` only, where a figure is drawn.
"""
