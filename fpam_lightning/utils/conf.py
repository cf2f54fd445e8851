"""The shipped configs: where they live, their options, and the option a run chose.

The configs ship inside the package (`fpam_lightning/conf`), so console scripts and installed
wheels find them; their keys and types are the schema's (`utils/schema.py`, which also composes
them: `compose`).
"""

from __future__ import annotations

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def group_options(group: str) -> list[str]:
    """The option names of a config group, from the files in conf/<group>/."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def option_name(group: str) -> str | None:
    """The option chosen for a config group (`scheduler` -> `cosine`), from Hydra's record."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().runtime.choices.get(group)
