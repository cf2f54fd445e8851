"""The spatial attention maps of chosen clips (the paper's Fig. 5), for a trained module.

`explain_clips` runs the network's `explain()` on each waveform, cropped or padded as in
evaluation; `attention_plot` draws them with the module's own front end and attention levels.
Used by `figures attention` (a checkpoint) and by the `FigureLogger` callback (while training).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..models.classifier import head_levels
from ..utils.errors import FpamError


def _wave_tensor(wave: Any) -> torch.Tensor:
    if isinstance(wave, torch.Tensor):
        return wave.to(torch.float32)
    return torch.from_numpy(np.array(wave, dtype=np.float32))


@torch.no_grad()
def explain_clips(module, waves: Sequence) -> list[dict[str, Any]]:
    """Per mono waveform: its log-mel `spectrogram` and each level's attention map as (time,
    mel) arrays, the `predicted` class and its probability `prob`. Runs in eval mode."""
    was_training = module.training
    module.eval()
    items = []
    try:
        for wave in waves:
            out = module.explain(_wave_tensor(wave)[None].to(module.device))
            if not out["attention_maps"]:
                name = module.hparams["net"]["attention"].get("name", "?")
                raise FpamError(
                    f"this model's head (attention={name}) has no spatial attention maps: "
                    "attention figures need fpam or psa, or a head with attention_maps()"
                )
            pred = int(out["logits"].argmax(-1))
            items.append(
                {
                    "spectrogram": out["spectrogram"][0, 0].cpu().numpy(),
                    "maps": [m[0, 0].cpu().numpy() for m in out["attention_maps"]],
                    "predicted": pred,
                    "prob": float(out["logits"].softmax(-1)[0, pred]),
                }
            )
    finally:
        module.train(was_training)
    return items


def attention_levels(module) -> list[int]:
    """The backbone levels (Res-N) the attention head looks at, from the module's config."""
    return head_levels(module.hparams["net"].get("attention", {}))


def attention_plot(module, items: Sequence[dict]):
    """`plots.attention_figure` of explained, titled clips, at the module's rate and hop."""
    from .plots import attention_figure

    frontend = module.net.frontend
    return attention_figure(
        items, frontend.sample_rate, frontend.hop_length, attention_levels(module)
    )


def pick_per_class(rows: list[dict], names: list[str]) -> list[dict]:
    """One prediction row per class: the most confidently correct, else the first of that class."""
    chosen = []
    for c, name in enumerate(names):
        mine = [r for r in rows if int(r["target"]) == c]
        if not mine:
            continue
        right = [r for r in mine if int(r["predicted"]) == c]
        pool = right or mine
        chosen.append(max(pool, key=lambda r: float(r[f"prob_{name}"])))
    return chosen
