"""The throughput measurements behind `python -m fpam_lightning.bench`, one module each.

- `common`: the settings (presets and flags), the run's context (device, timers, memory, configs),
  the synthetic clips, the hardware and commit the report names.
- `first_pass`: the first, decoding pass over the audio against a cached epoch.
- `data_path`: (a) the data path alone, host (memmap) loader and on-device gather.
- `bare_loop`: (b) the bare PyTorch training loop.
- `lightning_fit`: (c) this project's Lightning fit.
- `evaluation`: (d) evaluation, bare and through Lightning.
- `rounds`: (b) and (c) alternating, with round 0's FLOP count and evaluations.
- `report`: ratios against the targets, and the JSON and markdown the command writes.
"""
