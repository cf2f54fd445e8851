"""FPAM for environmental sound classification, as a Lightning + Hydra framework."""

__version__ = "0.1.0"
