"""Load a local state dict (e.g. AudioSet-trained ResNet weights) into a backbone.

The file is read by `utils.safe_load.safe_torch_load` (`torch.load(weights_only=True)`), so
it cannot run code. Keys are matched after stripping a prefix and mapping names; a 3-channel
(RGB) first convolution is summed to our 1 channel; the source's classifier is dropped. Missing
and unexpected keys are logged. Shape mismatches and missing keys fail with the list, unless
`partial=True` asks to load what fits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from timm.models import adapt_input_conv
from torch import nn

from ..utils.errors import ConfigError
from ..utils.safe_load import safe_torch_load

log = logging.getLogger(__name__)

# Containers that training scripts wrap a state dict in (Lightning, the authors' code, timm).
WRAPPERS = ("state_dict", "model", "model_state_dict", "state_dict_ema", "net")
# Key renames per naming scheme, (source prefix, our prefix). timm's ResNets use torchvision's
# names (conv1, bn1, layer1..4, downsample.0/1, fc), so both schemes map one to one.
KEY_SCHEMES: dict[str, tuple[tuple[str, str], ...]] = {"timm": (), "torchvision": ()}
CLASSIFIER_PREFIXES = ("fc.", "head.", "classifier.", "head.fc.")
IGNORED_SUFFIXES = ("num_batches_tracked",)


def _unwrap(obj) -> dict[str, torch.Tensor]:
    for _ in range(3):
        if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in WRAPPERS if isinstance(obj.get(k), Mapping)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping):
        raise ConfigError(f"backbone.checkpoint holds a {type(obj).__name__}, not a state dict")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def remap_keys(
    state: dict[str, torch.Tensor],
    prefix: str | None = None,
    keys: str | Mapping[str, str] | None = "timm",
) -> dict[str, torch.Tensor]:
    """Strip `prefix` (e.g. "module.") where present, then rename by scheme or explicit map."""
    if isinstance(keys, Mapping):
        renames = tuple(dict(keys).items())
    else:
        scheme = keys or "timm"
        if scheme not in KEY_SCHEMES:
            raise ConfigError(
                f"backbone.checkpoint_keys={scheme!r}: choose "
                f"{' or '.join(KEY_SCHEMES)}, or a mapping of prefixes"
            )
        renames = KEY_SCHEMES[scheme]
    out = {}
    for k, v in state.items():
        if prefix:
            p = prefix if prefix.endswith(".") else prefix + "."
            if not k.startswith(p):
                continue
            k = k[len(p) :]
        for src, dst in renames:
            if k.startswith(src):
                k = dst + k[len(src) :]
                break
        out[k] = v
    return out


def _first_conv(target: Mapping[str, torch.Tensor]) -> str | None:
    return next((k for k, v in target.items() if k.endswith("weight") and v.ndim == 4), None)


def _match(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], dropped: list[str]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The source tensors that fit the target (a first conv adapted to its input channels)."""
    conv = _first_conv(target)
    load, mismatched = {}, []
    for k, v in source.items():
        if k not in target or k in dropped:
            continue
        want = target[k]
        adaptable = v.ndim == 4 and v.shape[0] == want.shape[0] and v.shape[2:] == want.shape[2:]
        if k == conv and v.shape != want.shape and adaptable:
            log.info(
                "backbone.checkpoint: adapting %s from %d to %d input channels",
                k,
                v.shape[1],
                want.shape[1],
            )
            v = adapt_input_conv(want.shape[1], v)
        if v.shape != want.shape:
            mismatched.append(f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(want.shape)}")
            continue
        load[k] = v.to(want.dtype)
    return load, mismatched


def _log_report(path: Path, report: dict[str, list[str]], total: int) -> None:
    log.info("backbone.checkpoint=%s: %d of %d tensors loaded", path, len(report["loaded"]), total)
    if report["dropped_classifier"]:
        log.info(
            "backbone.checkpoint: dropped the source classifier: %s",
            ", ".join(report["dropped_classifier"]),
        )
    for key, what in (
        ("unexpected", "unexpected key(s) ignored"),
        ("missing", "missing key(s) keep their initial values"),
        ("mismatched", "shape mismatch(es)"),
    ):
        if report[key]:
            log.warning(
                "backbone.checkpoint: %d %s: %s", len(report[key]), what, _short(report[key])
            )


def load_backbone_checkpoint(
    backbone: nn.Module,
    path: str | Path,
    prefix: str | None = None,
    keys: str | Mapping[str, str] | None = "timm",
    partial: bool = False,
) -> dict[str, list[str]]:
    """Load `path` into `backbone` (its timm `body` if it has one); returns the key report."""
    path = Path(path).expanduser()
    raw = safe_torch_load(path, setting="backbone.checkpoint")
    module = getattr(backbone, "body", backbone)
    target = module.state_dict()
    source = remap_keys(_unwrap(raw), prefix, keys)
    if not source:
        raise ConfigError(f"backbone.checkpoint={path}: no key starts with the prefix {prefix!r}")
    dropped = sorted(k for k in source if k not in target and k.startswith(CLASSIFIER_PREFIXES))
    load, mismatched = _match(source, target, dropped)
    missing = sorted(
        k
        for k in target
        if k not in load
        and not k.endswith(IGNORED_SUFFIXES)
        and not any(m.startswith(k + ":") for m in mismatched)
    )
    report = {
        "loaded": sorted(load),
        "missing": missing,
        "unexpected": sorted(k for k in source if k not in target and k not in dropped),
        "mismatched": mismatched,
        "dropped_classifier": dropped,
    }
    _log_report(path, report, len(target))
    if not load:
        raise ConfigError(
            f"backbone.checkpoint={path}: no tensor matches the backbone's names "
            f"(e.g. {_short(sorted(source), 3)} vs {_short(sorted(target), 3)}); "
            "set backbone.checkpoint_prefix to strip a prefix"
        )
    if (mismatched or missing) and not partial:
        problems = [f"{len(mismatched)} shape mismatch(es): {_short(mismatched)}"] * bool(
            mismatched
        )
        problems += [f"{len(missing)} missing key(s): {_short(missing)}"] * bool(missing)
        raise ConfigError(
            f"backbone.checkpoint={path} does not fit {type(module).__name__}: "
            + "; ".join(problems)
            + ". Set backbone.partial=true to load the tensors that fit."
        )
    module.load_state_dict(load, strict=False)
    return report


def _short(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f" ... (+{len(items) - n})" if len(items) > n else "")
