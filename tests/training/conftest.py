"""Training tests run single-threaded (see helpers.single_threaded)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from helpers import compose_train, single_threaded

_one_thread = pytest.fixture(autouse=True, scope="module")(single_threaded)


@pytest.fixture
def small_module(tmp_path) -> Callable[[int], torch.nn.Module]:
    """`small_module(tta_crops)`: a seeded module on the tutorial CNN, 3 classes, 0.5 s clips,
    in eval mode: enough to compare its scoring paths on random waves."""
    from omegaconf import OmegaConf

    from fpam_lightning.training.module import AudioClassificationModule

    net = OmegaConf.to_container(
        compose_train(["backbone=tutorial_cnn", "attention=none"], tmp_path), resolve=True
    )

    def build(tta_crops: int) -> AudioClassificationModule:
        torch.manual_seed(0)
        return AudioClassificationModule(
            net={k: net[k] for k in ("features", "backbone", "attention", "model")},
            num_classes=3,
            clip_samples=8000,
            tta_crops=tta_crops,
        ).eval()

    return build
