"""What a model config chooses from: the attention heads and the pyramid levels.

Defined once, here, for the model code, the config checks and the figure scripts. This module
imports nothing (no torch), so `from fpam_lightning.models.choices import ATTENTIONS` is cheap.
"""

from __future__ import annotations

# attention.name -> (pyramid spatial attention, pyramid channel attention); None: no attention
# head, the backbone's Res-5 globally pooled (the paper's baseline).
ATTENTION_BRANCHES: dict[str, tuple[bool, bool] | None] = {
    "fpam": (True, True),
    "psa": (True, False),
    "pca": (False, True),
    # The control for the head's size: the same aligned, resampled and fused pyramid with no
    # spatial and no channel attention, so "attention helps" can be told from "a bigger head".
    "pyramid": (False, False),
    "none": None,
}
ATTENTIONS: tuple[str, ...] = tuple(ATTENTION_BRANCHES)  # ("fpam", "psa", "pca", "pyramid", "none")

# Pyramid levels, named as in ResNet papers: Res-2 (layer1) .. Res-5 (layer4). Every backbone
# (timm ResNets and the tutorial CNN) has all four.
LEVELS: tuple[int, ...] = (2, 3, 4, 5)
# attention.levels when unset: Res-3/4/5, as in the paper's table and the authors' code.
DEFAULT_LEVELS: tuple[int, ...] = (3, 4, 5)
