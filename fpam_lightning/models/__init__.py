"""Models: log-mel front end, timm (or tutorial) backbone, FPAM head or its ablations.

The names that configs choose from (`ATTENTIONS`, `LEVELS`, `DEFAULT_LEVELS`) come from the
torch-free `choices` module; the network classes are imported on first use, so importing the
choices does not import torch and timm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .choices import ATTENTION_BRANCHES, ATTENTIONS, DEFAULT_LEVELS, LEVELS

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
    "ATTENTIONS",
    "ATTENTION_BRANCHES",
    "DEFAULT_LEVELS",
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
