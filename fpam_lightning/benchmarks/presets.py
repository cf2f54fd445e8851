"""The benchmark's two model and data shapes (`bench --preset`). Plain data, no torch: `bench
--help` lists them without importing it."""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # A few minutes on a 2-core CPU: ResNet18 + FPAM (256 channels) on 1 s clips (1 x 41 x 64).
    "cpu": dict(
        backbone="resnet18",
        attention="fpam",
        channels=256,
        clip_seconds=1.0,
        num_classes=10,
        batch_size=8,
        steps=6,
        epochs=3,
        eval_batch_size=32,
        num_workers=0,  # worker processes only compete with the two compute threads here
        device="cpu",
        precision="32-true",
        channels_last=False,
        compile=False,
        rounds=3,
    ),
    # The paper's shape on a GPU: ResNet50 + FPAM (1024) on 5 s clips (1 x 201 x 64), ESC-50 size.
    "paper": dict(
        backbone="resnet50",
        attention="fpam",
        channels=1024,
        clip_seconds=5.0,
        num_classes=50,
        batch_size=32,
        steps=50,
        epochs=4,
        eval_batch_size=128,
        num_workers=8,
        device="cuda",
        precision="bf16-mixed",
        channels_last=True,
        compile=False,
        rounds=1,
    ),
}
