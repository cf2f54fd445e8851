"""choices: the attention names and pyramid levels, defined once and agreeing with the configs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import fpam_lightning
from fpam_lightning.models import (
    ATTENTIONS,
    DEFAULT_LEVELS,
    LEVELS,
    build_classifier,
    choices,
)
from fpam_lightning.models.backbones import TimmBackbone
from fpam_lightning.models.tutorial_cnn import TutorialCNN
from fpam_lightning.utils.errors import ConfigError

CONF = Path(fpam_lightning.__file__).parent / "conf"


def test_values():
    assert ATTENTIONS == ("fpam", "psa", "pca", "pyramid", "none")
    assert tuple(choices.ATTENTION_BRANCHES) == ATTENTIONS
    assert LEVELS == (2, 3, 4, 5) and DEFAULT_LEVELS == (3, 4, 5)
    assert set(DEFAULT_LEVELS) <= set(LEVELS)


def test_the_shipped_attention_configs_are_the_choices():
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in (CONF / "attention").glob("*.yaml")}
    assert sorted(configs) == sorted(ATTENTIONS)
    for name, cfg in configs.items():
        assert cfg["name"] == name
        if choices.ATTENTION_BRANCHES[name] is not None:
            assert tuple(cfg["levels"]) == DEFAULT_LEVELS


def test_importing_the_choices_imports_no_torch():
    code = (
        "import sys; from fpam_lightning.models.choices import ATTENTIONS; "
        "from fpam_lightning.models import LEVELS; "
        "print(sorted({'torch', 'timm'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_model_code_uses_them():
    cfg = {"features": {}, "model": {}, "backbone": {"name": "resnet18", "paper_stem": False}}
    net = build_classifier({**cfg, "attention": {"name": "psa", "channels": 8}}, 3)
    assert tuple(net.backbone.levels) == DEFAULT_LEVELS  # attention.levels unset
    with pytest.raises(ConfigError, match="choose one of fpam, psa, pca, pyramid, none"):
        build_classifier({**cfg, "attention": {"name": "spa"}}, 3)
    for make in (lambda: TimmBackbone("resnet18", [1, 3]), lambda: TutorialCNN([1, 3])):
        with pytest.raises(ConfigError, match=r"levels \[1\] do not exist .*\[2, 3, 4, 5\]"):
            make()
