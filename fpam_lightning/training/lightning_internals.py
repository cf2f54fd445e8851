"""The only two places the project touches Lightning internals, each because no public way exists.

* DDP children inside a Hydra multirun (`training.ddp`): Lightning's subprocess launcher builds
  a child's command with the module-level helper `_hydra_subprocess_cmd`, looked up at call
  time. There is no public hook for that command (Lightning PR #18175, which would add one, is
  open; Hydra issue #2070). Ranks started by torchrun or srun need no seam, but a multirun of
  several DDP jobs from one process does.
* The weight average of `WeightAveraging` (`training.ema`): the callback keeps its
  `AveragedModel` in `_average_model` and offers no accessor; the figure callbacks score an
  epoch with it.

`tests/training/test_lightning_internals.py` fails loudly when Lightning renames either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from lightning.pytorch.callbacks import WeightAveraging

ChildCommand = Callable[[int], tuple[Sequence[str], str]]


def set_ddp_child_command(child_command: ChildCommand) -> None:
    """Make Lightning's subprocess launcher start rank `local_rank` with `child_command(local_rank)`
    -> (argv, cwd)."""
    import lightning.pytorch.strategies.launchers.subprocess_script as launcher

    if not hasattr(launcher, "_hydra_subprocess_cmd"):
        raise RuntimeError(
            "this Lightning version has no subprocess_script._hydra_subprocess_cmd: "
            "update fpam_lightning.training.lightning_internals"
        )
    launcher._hydra_subprocess_cmd = child_command


def averaged_module(callback: WeightAveraging) -> torch.nn.Module | None:
    """The averaged copy of the model a `WeightAveraging` callback keeps (None before fit)."""
    average = getattr(callback, "_average_model", None)
    return None if average is None else average.module
