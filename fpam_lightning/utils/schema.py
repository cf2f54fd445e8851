"""The schema of the recipe's configs: a dataclass per group, in Hydra's ConfigStore.

`train.yaml` names each schema first in its defaults list (`/schema/<group>/<name>@<group>`), so
Hydra types every key of mixup, augment, scheduler, model, loss, ema, eval and debug at
composition: a key the schema lacks, or a value of the wrong type, stops the command before it
starts. What a type cannot say (a probability, a positive count) each dataclass says in
`problems()`, one clause per bad value, which `training/config_checks.validate` joins into one
line; code that reads these nodes takes its defaults from here (`filled`). Numbers that may be
written as int or float are `Any` here, so messages echo them as written (`f_min=0.0`).

The data module and the network's parts are `_target_` nodes: their class's signature is their
schema, checked by `signature_problems`. `optim` and `scheduler.schedule` name a torch class,
whose own arguments they hold (any class may be named), checked by `torch_partial_problems`.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from .conf import CONF_DIR, group_options

VAL_MODES = ("test_fold", "split", "none")
BAD_FILE_MODES = ("error", "skip")
HYDRA_KEYS = ("_target_", "_partial_")


def choices(values) -> str:
    return ", ".join(str(v) for v in values)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def positive_int(key: str, value, allow_none: bool = False) -> list[str]:
    if (value is None and allow_none) or is_positive_int(value):
        return []
    return [f"{key}={value!r} must be a positive integer"]


def count(key: str, value) -> list[str]:
    """0 or a positive integer."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return []
    return [f"{key}={value!r} must be 0 or a positive integer"]


# --- the network ----------------------------------------------------------------------------
@dataclass
class Classifier:
    hidden: int | None = None
    dropout: float = 0.0
    hidden_dropout: float = 0.0


@dataclass
class Model:
    variant: str = "paper"
    classifier: Classifier = field(default_factory=Classifier)

    def problems(self) -> list[str]:
        if self.variant in ("paper", "authors"):
            return []
        return [f"model.variant={self.variant!r}: choose one of paper, authors"]


# --- the training recipe --------------------------------------------------------------------
@dataclass
class Mixup:
    enabled: bool = False
    alpha: float = 0.2
    prob: float = 1.0


@dataclass
class Augment:
    crop_fraction: Any = 1.0
    time_shift: Any = 0.0
    gain_db: Any = 0.0
    background: Any = 0.0
    background_snr_db: list[Any] = field(default_factory=lambda: [0.0, 20.0])
    time_flip: Any = 0.0
    freq_mask: int = 0
    time_mask: int = 0
    num_masks: int = 2

    BOUNDS: ClassVar[dict[str, tuple[int, int]]] = {
        "time_shift": (0, 1),
        "gain_db": (0, 60),
        "background": (0, 1),
    }

    def problems(self) -> list[str]:
        p = self.time_flip
        out = [] if is_number(p) and 0 <= p <= 1 else [
            f"augment.time_flip={p!r} must be a probability between 0 and 1"
        ]  # fmt: skip
        for key in ("freq_mask", "time_mask", "num_masks"):
            out += count(f"augment.{key}", getattr(self, key))
        for key, (low, high) in self.BOUNDS.items():
            v = getattr(self, key)
            if not (is_number(v) and low <= v <= high):
                out.append(f"augment.{key}={v!r} must be a number from {low} to {high}")
        c = self.crop_fraction
        if not (is_number(c) and 0 < c <= 1):
            out.append(f"augment.crop_fraction={c!r} must be a fraction in (0, 1] (1: off)")
        pair = list(self.background_snr_db)
        if not (len(pair) == 2 and all(is_number(v) for v in pair) and pair[0] <= pair[1]):
            out.append(
                f"augment.background_snr_db={self.background_snr_db!r} must be [low, high] in "
                "dB, low <= high"
            )
        return out


@dataclass
class Ema:
    enabled: bool = False
    decay: Any = 0.999

    def problems(self) -> list[str]:
        if is_number(self.decay) and 0 < self.decay < 1:
            return []
        return [f"ema.decay={self.decay!r} must be between 0 and 1 (e.g. 0.999)"]


@dataclass
class Eval:
    tta_crops: int | None = 1  # evaluate: null scores as the training run did

    def problems(self) -> list[str]:
        return positive_int("eval.tta_crops", self.tta_crops)


@dataclass
class Loss:
    label_smoothing: float = 0.0


@dataclass
class Debug:
    nan_at_step: int | None = None

    def problems(self) -> list[str]:
        step = self.nan_at_step
        if step is None or step >= 0:
            return []
        return [f"debug.nan_at_step={step!r} must be null or a step number >= 0"]


@dataclass
class Scheduler:
    """The project's keys beside the torch schedule, which `schedule` instantiates (or null)."""

    warmup_epochs: int = 0  # > 0: linear warm-up from lr/(warmup_epochs+1) to lr first
    min_lr_ratio: Any = None  # the floor as a fraction of optim.lr (eta_min), when it has one
    interval: str = "epoch"  # step the schedule after each epoch, or each optimiser step
    schedule: dict[str, Any] | None = None

    def problems(self) -> list[str]:
        out = count("scheduler.warmup_epochs", self.warmup_epochs)
        if self.interval not in ("epoch", "step"):
            out.append(f"scheduler.interval={self.interval!r}: choose epoch or step")
        floor = self.min_lr_ratio
        if floor is not None and not (is_number(floor) and 0 <= floor <= 1):
            out.append(f"scheduler.min_lr_ratio={floor!r} must be between 0 and 1")
        schedule = self.schedule or {}
        if "step_size" in schedule:
            out += positive_int("scheduler.schedule.step_size", schedule["step_size"])
        gamma = schedule.get("gamma")
        if "gamma" in schedule and not (is_number(gamma) and gamma > 0):
            out.append(f"scheduler.schedule.gamma={gamma!r} must be a positive number")
        return out


def filled(schema: type, cfg: Any = None) -> dict[str, Any]:
    """`cfg` over its schema's defaults: a module built from a partial dict (a test, an older
    checkpoint) reads the very defaults a composed config has, declared once, here."""
    return {**dataclasses.asdict(schema()), **dict(cfg or {})}


# --- a value Hydra refused -------------------------------------------------------------------
def wrong_type_problem(schema: type | None, full_key: str, value: Any, reason: str) -> str:
    """One clause for a value of the wrong type, which Hydra refuses at composition: the
    schema's own range message for that key when it has one (`data.batch_size='x' must be a
    positive integer`), else Hydra's reason."""
    if dataclasses.is_dataclass(schema) and hasattr(schema, "problems"):
        field_name = full_key.rsplit(".", 1)[-1]
        if field_name in {f.name for f in dataclasses.fields(schema)}:
            said = f"{full_key}={value!r}"
            probe = dataclasses.replace(schema(), **{field_name: value})
            try:
                clause = next((p for p in probe.problems() if p.startswith(said)), None)
            except Exception:  # other fields are unset in the probe
                clause = None
            if clause:
                return clause
    return f"{full_key}={value!r}: {reason.splitlines()[0].strip()}"


# --- `_target_` nodes naming a torch class ---------------------------------------------------
@cache
def _torch_classes(kind: str) -> tuple[str, ...]:
    """The importable torch classes an optim/scheduler config may name (for suggestions)."""
    module, base = TORCH_BASES[kind]()
    return tuple(
        f"{module.__name__}.{n}"
        for n, c in vars(module).items()
        if isinstance(c, type) and issubclass(c, base) and c is not base and not n.startswith("_")
    )


def _optim_base():
    import torch

    return torch.optim, torch.optim.Optimizer


def _scheduler_base():
    import torch

    return torch.optim.lr_scheduler, torch.optim.lr_scheduler.LRScheduler


TORCH_BASES = {"optimiser": _optim_base, "learning-rate scheduler": _scheduler_base}


def locate_class(path: str) -> type | None:
    """The class at a dotted path, or None (quietly: Hydra's own lookup logs its failures)."""
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    return found if isinstance(found, type) else None


def torch_partial_problems(
    node: dict[str, Any], key: str, group: str, kind: str, derived: tuple[str, ...] = ()
) -> tuple[list[str], type | None]:
    """A torch class (optimiser or scheduler) as a Hydra partial with its own arguments only.

    Returns the problems and the class, when it resolves, for checks that span groups.
    """
    target = node.get("_target_")
    choose = f"choose with {group}=<one of {choices(group_options(group))}>"
    if target is None:
        return [f"{key}._target_ is missing: {choose}"], None
    _, base = TORCH_BASES[kind]()
    cls = locate_class(str(target))
    if cls is None or not issubclass(cls, base) or cls is base:
        classes = {path.rsplit(".", 1)[-1]: path for path in _torch_classes(kind)}
        near = difflib.get_close_matches(str(target).rsplit(".", 1)[-1], classes, n=1)
        near = [classes[n] for n in near]
        hint = f"; did you mean {choices(near)}?" if near else ""
        return [f"{key}._target_={target!r} is not a torch {kind}: {choose}{hint}"], None
    out = []
    if node.get("_partial_") is not True:
        first = "parameters" if kind == "optimiser" else "optimizer"
        out.append(f"{key}._partial_ must be true (training passes the {first} later)")
    return out + signature_problems(cls, node, key, skip=1, supplied=derived), cls


def _init_params(cls: type) -> list[inspect.Parameter]:
    """A class's arguments; where its __init__ passes **kwargs on, its parents' arguments too
    (a data set's module takes its own keys and hands the rest to FoldDataModule)."""
    params = list(inspect.signature(cls).parameters.values())
    rest = [p for p in params if p.kind is p.VAR_KEYWORD]
    parent = next((c for c in cls.__mro__[1:] if "__init__" in vars(c)), object)
    if not rest or parent is object:
        return params
    own = [p for p in params if p.kind is not p.VAR_KEYWORD]
    names = {p.name for p in own}
    return own + [p for p in _init_params(parent) if p.name not in names]


def signature_problems(
    cls: type, node: dict[str, Any], key: str, skip: int = 0, supplied: Sequence[str] = ()
) -> list[str]:
    """A `_target_` node's keys against its class's signature: each key an argument (unless
    the class takes **kwargs), each required argument given. `skip`: leading parameters the
    caller passes (an optimiser's params); `supplied`: arguments the builder passes."""
    target = node.get("_target_", cls.__name__)
    params = _init_params(cls)[skip:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    given = [k for k in node if k not in HYDRA_KEYS]
    out = []
    unknown = [k for k in given if k not in names]
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params):
        near = [m for k in unknown for m in difflib.get_close_matches(k, names, n=1)]
        hint = f"; did you mean {choices(near)}?" if near else ""
        out.append(
            f"{choices(f'{key}.{k}' for k in unknown)} "
            f"{'is not an argument' if len(unknown) == 1 else 'are not arguments'} of {target} "
            f"(its arguments: {choices(names)}){hint}"
        )
    for p in params:
        if p.name in names and p.default is p.empty and p.name not in (*given, *supplied):
            out.append(f"{target} needs {key}.{p.name}")
    return out


# --- where the schemas live -----------------------------------------------------------------
# schema/<group>/<name>: what conf/<group>/<option>.yaml (or train.yaml) lists first.
SCHEMAS: dict[str, dict[str, type]] = {
    "mixup": {"mixup": Mixup},
    "augment": {"augment": Augment},
    "scheduler": {"scheduler": Scheduler},
    "model": {"model": Model},
    "loss": {"loss": Loss},
    "ema": {"ema": Ema},
    "eval": {"eval": Eval},
    "debug": {"debug": Debug},
}


def register_schemas() -> None:
    """Put every schema in Hydra's ConfigStore (idempotent). Each Hydra command calls it before
    its config is composed: the YAML files name these schemas in their defaults lists."""
    store = ConfigStore.instance()
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            store.store(group=f"schema/{group}", name=name, node=node)


def compose(config_name: str = "train", overrides: Sequence[str] = (), **kw: Any) -> DictConfig:
    """Compose a shipped config (`train`, `evaluate`, `export`) as its command line would."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides), **kw)
