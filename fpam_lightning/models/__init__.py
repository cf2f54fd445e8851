"""Models: log-mel front end, timm (or tutorial) backbone, FPAM head or its ablations."""

from .classifier import AudioClassifier, build_classifier, count_flops, count_parameters
from .fpam import VARIANTS, PyramidAttentionHead
from .frontend import LogMel

__all__ = [
    "VARIANTS",
    "AudioClassifier",
    "LogMel",
    "PyramidAttentionHead",
    "build_classifier",
    "count_flops",
    "count_parameters",
]
