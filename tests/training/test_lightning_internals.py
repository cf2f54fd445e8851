"""The two Lightning internals the project relies on (`training.lightning_internals`).

These fail loudly, naming what changed, when a Lightning release renames either, so a pin can
be widened only when they pass.
"""

from __future__ import annotations

import inspect

import lightning.pytorch.strategies.launchers.subprocess_script as launcher
import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import WeightAveraging

from fpam_lightning.training.ema import EMA
from fpam_lightning.training.lightning_internals import averaged_module, set_ddp_child_command


def test_the_ddp_launcher_still_builds_child_commands_with_the_replaced_helper():
    source = inspect.getsource(launcher._SubprocessScriptLauncher._call_children_scripts)
    assert "_hydra_subprocess_cmd(local_rank)" in source, (
        "Lightning's subprocess launcher no longer calls _hydra_subprocess_cmd(local_rank): "
        "DDP children in a Hydra multirun would rerun the whole sweep"
    )
    original = launcher._hydra_subprocess_cmd

    def child(local_rank: int):
        return ["python", "-m", "x", f"rank={local_rank}"], "/somewhere"

    try:
        set_ddp_child_command(child)
        assert launcher._hydra_subprocess_cmd(1) == (["python", "-m", "x", "rank=1"], "/somewhere")
    finally:
        launcher._hydra_subprocess_cmd = original


class Tiny(LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)


def test_the_weight_average_is_reachable_after_setup():
    module = Tiny()
    callback = EMA(decay=0.9)
    assert isinstance(callback, WeightAveraging) and averaged_module(callback) is None
    callback.setup(None, module, "fit")  # Lightning's own setup builds the AveragedModel
    average = averaged_module(callback)
    assert isinstance(average, Tiny) and average is not module, (
        "WeightAveraging no longer keeps its AveragedModel in _average_model"
    )
    torch.testing.assert_close(average.layer.weight, module.layer.weight, rtol=0, atol=0)
    with torch.no_grad():
        module.layer.weight.add_(1.0)  # the average is a copy: training moves only the model
    assert not torch.equal(average.layer.weight, module.layer.weight)
