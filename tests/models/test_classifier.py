"""The model builder: each shipped head is a `_target_` class, wired to the backbone's levels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra.utils import get_class

import fpam_lightning
from fpam_lightning.models import LEVELS, build_classifier
from fpam_lightning.models.backbones import TimmBackbone
from fpam_lightning.models.fpam import GlobalPoolHead, PyramidAttentionHead
from fpam_lightning.models.tutorial_cnn import TutorialCNN
from fpam_lightning.utils.errors import ConfigError

CONF = Path(fpam_lightning.__file__).parent / "conf"
GLOBAL_POOL = "fpam_lightning.models.fpam.GlobalPoolHead"
PYRAMID = "fpam_lightning.models.fpam.PyramidAttentionHead"
TIMM = "fpam_lightning.models.backbones.TimmBackbone"


def test_values():
    assert LEVELS == (2, 3, 4, 5)


def test_each_shipped_head_names_its_class_and_reads_res_3_4_5_or_pools_res_5():
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in (CONF / "attention").glob("*.yaml")}
    assert sorted(configs) == ["fpam", "none", "pca", "psa", "pyramid"]
    parts = {"fpam": (True, True), "psa": (True, False), "pca": (False, True)}
    for name, cfg in configs.items():
        assert cfg["name"] == name
        cls = get_class(cfg["_target_"])
        if name == "none":
            assert cls is GlobalPoolHead and cfg["levels"] == [5]
        else:
            assert cls is PyramidAttentionHead and cfg["levels"] == [3, 4, 5]
            assert (cfg["spatial"], cfg["channel"]) == parts.get(name, (False, False))


def test_importing_the_levels_imports_no_torch():
    code = (
        "import sys; from fpam_lightning.models import LEVELS; "
        "print(sorted({'torch', 'timm'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_builder_reads_the_heads_levels_and_the_authors_global_branch():
    cfg = {"features": {}, "backbone": {"_target_": TIMM, "name": "resnet18", "paper_stem": False}}
    head = {"_target_": PYRAMID, "name": "psa", "channels": 8, "channel": False}
    net = build_classifier({**cfg, "attention": {**head, "levels": [2, 3, 4]}}, 3)
    assert tuple(net.backbone.levels) == (2, 3, 4) and net.head.pca is None
    authors = build_classifier({**cfg, "attention": {**head, "variant": "authors"}}, 3)
    assert tuple(authors.backbone.levels) == (5,) and authors.head.global_branch is not None
    with pytest.raises(ConfigError, match="no _target_"):
        build_classifier({**cfg, "attention": {"name": "psa"}}, 3)
    for make in (lambda: TimmBackbone("resnet18", [1, 3]), lambda: TutorialCNN([1, 3])):
        with pytest.raises(ConfigError, match=r"levels \[1\] do not exist .*\[2, 3, 4, 5\]"):
            make()
    # The baseline pools Res-5 even where a sweep sets the pyramid heads' levels for every arm.
    for levels in ([5], [2, 3, 4]):
        none = build_classifier(
            {**cfg, "attention": {"_target_": GLOBAL_POOL, "levels": levels}}, 3
        )
        assert none.head.classifier.net[-1].in_features == 512  # resnet18's Res-5
