"""Models: log-mel front end, timm (or tutorial, or EfficientAT) backbone, FPAM head or its
ablations. The network classes are imported on first use, so `LEVELS` costs no torch import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Pyramid levels, named as in ResNet papers: Res-2 (layer1) .. Res-5 (layer4), level k at stride
# 2^k. Every backbone here (timm ResNets, the tutorial CNN, EfficientAT) has all four.
LEVELS: tuple[int, ...] = (2, 3, 4, 5)

if TYPE_CHECKING:
    from .classifier import (
        AudioClassifier,
        build_classifier,
        component_name,
        count_flops,
        count_parameters,
    )
    from .fpam import VARIANTS, PyramidAttentionHead
    from .frontend import LogMel

_LAZY = {
    "AudioClassifier": "classifier",
    "build_classifier": "classifier",
    "component_name": "classifier",
    "count_flops": "classifier",
    "count_parameters": "classifier",
    "VARIANTS": "fpam",
    "PyramidAttentionHead": "fpam",
    "LogMel": "frontend",
}

__all__ = [
    "LEVELS",
    "VARIANTS",
    "AudioClassifier",
    "LogMel",
    "PyramidAttentionHead",
    "build_classifier",
    "component_name",
    "count_flops",
    "count_parameters",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value
