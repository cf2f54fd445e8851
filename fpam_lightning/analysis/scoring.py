"""One pass of a trained module over a loader: per-clip probabilities, targets, pooled features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.errors import ConfigError, FpamError


@dataclass
class Scores:
    """Per-clip outputs of one pass over a loader, in loader order."""

    probs: np.ndarray  # (N, K)
    targets: np.ndarray  # (N,)
    indices: np.ndarray  # (N,) rows of the data set's clip table
    embeddings: np.ndarray  # (N, D) pooled features before the classifier
    loss: float

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.targets).mean()) if len(self.targets) else 0.0


@torch.no_grad()
def score(module, loader: Sequence) -> Scores:
    """Clips through the front end and network, as the module's test step scores them: the
    centre crop, or with `module.tta_crops` > 1 the mean probability over that many views
    (`AudioClassificationModule.score`); the embeddings are the centre crop's either way."""
    was_training = module.training
    module.eval()
    device = module.device
    probs, targets, indices, embs, losses = [], [], [], [], []
    try:
        for batch in loader:
            wave, y = batch[0].to(device), batch[1].to(device)
            out = module.net.classify(module._spec(module.crop(wave, train=False)))
            logits = out.logits if module.tta_crops <= 1 else module.score(wave)
            losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            probs.append(logits.float().softmax(-1).cpu())
            targets.append(y.cpu())
            embs.append(out.embedding.float().cpu())
            idx = batch[2] if len(batch) > 2 else torch.arange(len(y))
            indices.append(torch.as_tensor(idx).cpu())
    finally:
        module.train(was_training)
    if not probs:
        raise FpamError("the evaluation fold holds no clips")
    t = torch.cat(targets).numpy()
    return Scores(
        torch.cat(probs).numpy(),
        t,
        torch.cat(indices).numpy(),
        torch.cat(embs).numpy(),
        sum(losses) / len(t),
    )


def pick_device(name: str) -> torch.device:
    """`auto` is CUDA when there is a GPU, else the CPU; any other name is taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"device={name}: not a device name (auto, cpu, cuda, cuda:1)") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name} needs a GPU, but torch sees none: use device=cpu")
    return device
