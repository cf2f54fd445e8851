"""float32 vs bf16 and NCHW vs channels_last, per backbone: the facts behind `precision=auto`.

One training step (forward, backward, AdamW) of a batch of log-mel "images" through each
backbone with global pooling and a linear classifier, in every combination, timed in
interleaved rounds so that a busy machine hurts every cell alike; each cell keeps its best step.
`python -m fpam_lightning.bench --precision-grid` runs it and writes the table with the CPU.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F

from ..models.classifier import build_classifier

TIMM = "fpam_lightning.models.backbones.TimmBackbone"
# name -> the backbone node (the paper's stem for ResNet50, EfficientAT's mn04 without weights)
MODELS: dict[str, dict[str, Any]] = {
    "resnet18": {"_target_": TIMM, "name": "resnet18", "paper_stem": False},
    "resnet50 (paper stem)": {"_target_": TIMM, "name": "resnet50", "paper_stem": True},
    "mn04": {
        "_target_": "fpam_lightning.models.efficientat.EfficientATBackbone",
        "variant": "mn04_as",
    },
}
GLOBAL_POOL = "fpam_lightning.models.fpam.GlobalPoolHead"  # attention=none: the backbones' cost
# ResNet50 on the stride-1 stem costs about 20x ResNet18 a clip: a smaller batch keeps a CPU
# round to minutes (clips/s stays comparable).
BATCH_DIVISOR = {"resnet50 (paper stem)": 4}
CELLS = [(p, cl) for p in ("32-true", "bf16-mixed") for cl in (False, True)]


def _step_fn(model: str, channels_last: bool, bf16: bool, batch: int, frames: int, mels: int):
    net = build_classifier(
        {"features": {}, "backbone": MODELS[model], "attention": {"_target_": GLOBAL_POOL}}, 50
    )
    net.train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    opt = torch.optim.AdamW(net.parameters(), 1e-4)
    x = torch.randn(batch, 1, frames, mels).contiguous(memory_format=fmt)
    y = torch.randint(0, 50, (batch,))

    def step() -> float:
        start = time.perf_counter()
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
        with ctx:
            loss = F.cross_entropy(net.classify(x).logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    return step


def measure(
    models: list[str] | None = None,
    batch: int = 32,
    frames: int = 500,
    mels: int = 128,
    rounds: int = 2,
    log=print,
) -> list[dict[str, Any]]:
    """Clips per second of one training step, per model, precision and memory format."""
    sizes = {m: max(1, batch // BATCH_DIVISOR.get(m, 1)) for m in (models or list(MODELS))}
    steps = {
        (m, p, cl): _step_fn(m, cl, p.startswith("bf16"), sizes[m], frames, mels)
        for m in (models or list(MODELS))
        for p, cl in CELLS
    }
    best = {k: float("inf") for k in steps}
    for step in steps.values():
        step()  # warm-up: oneDNN picks its kernels
    for r in range(rounds):
        for k, step in steps.items():
            best[k] = min(best[k], step())
        log(f"round {r + 1}/{rounds} done")
    return [
        {
            "model": m,
            "precision": p,
            "channels_last": cl,
            "clips_per_s": round(batch / best[(m, p, cl)], 1),
        }
        for (m, p, cl) in steps
    ]


def markdown(rows: list[dict[str, Any]], cpu: str, shape: str) -> str:
    head = (
        "| model | fp32 | bf16 | fp32 channels_last | bf16 channels_last |\n|---|---|---|---|---|\n"
    )
    out = []
    for m in dict.fromkeys(r["model"] for r in rows):
        cell = {
            (r["precision"], r["channels_last"]): r["clips_per_s"] for r in rows if r["model"] == m
        }
        base = cell[("32-true", False)]
        vals = [cell[(p, cl)] for p, cl in CELLS]
        out.append(f"| {m} | " + " | ".join(f"{v} ({v / base:.2f}x)" for v in vals) + " |")
    return f"One training step, clips/s ({shape}), on {cpu}:\n\n{head}" + "\n".join(out) + "\n"
