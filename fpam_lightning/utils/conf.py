"""The shipped configs: where they live, their options, and composing one as a command would.

The configs ship inside the package (`fpam_lightning/conf`), so console scripts and installed
wheels find them; their keys and types are the schema's (`utils/schema.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def group_options(group: str) -> list[str]:
    """The option names of a config group, from the files in conf/<group>/."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose(config_name: str = "train", overrides: Sequence[str] = (), **kw: Any) -> DictConfig:
    """Compose a shipped config (`train`, `evaluate`, `export`) as its command line would."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from .schema import register_schemas

    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides), **kw)


def option_name(group: str) -> str | None:
    """The option chosen for a config group (`scheduler` -> `cosine`), from Hydra's record."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().runtime.choices.get(group)
