"""timm backbones with the paper's stem: Table 1's shapes, and errors a user can act on."""

from __future__ import annotations

import time

import pytest
import torch

from fpam_lightning.models.backbones import TimmBackbone, hub_reachable
from fpam_lightning.models.frontend import LogMel
from fpam_lightning.utils.errors import ConfigError

TABLE_1 = [(256, 101, 32), (512, 51, 16), (1024, 26, 8), (2048, 13, 4)]


def test_resnet50_paper_stem_gives_table_1_shapes_from_a_5_s_clip():
    spec = LogMel()(torch.randn(1, 5 * 16000) * 0.1)  # features=paper defaults
    assert tuple(spec.shape) == (1, 1, 201, 64)
    body = TimmBackbone("resnet50", [2, 3, 4, 5]).eval()
    with torch.no_grad():
        feats = body(spec)
    assert [tuple(f.shape[1:]) for f in feats] == TABLE_1
    assert body.channels == [c for c, _, _ in TABLE_1]


def test_stock_stem_halves_every_level():
    body = TimmBackbone("resnet18", [3, 5], paper_stem=False).eval()
    with torch.no_grad():
        feats = body(torch.randn(1, 1, 201, 64))
    assert [tuple(f.shape[2:]) for f in feats] == [(26, 8), (7, 2)]


def test_any_timm_resnet_by_name_and_unknown_names_fail_clearly():
    assert TimmBackbone("resnet34", [5]).channels == [512]
    with pytest.raises(ConfigError, match="not a timm model"):
        TimmBackbone("resnet_does_not_exist", [5])
    with pytest.raises(ConfigError, match="levels"):
        TimmBackbone("resnet18", [6])


@pytest.mark.parametrize("offline", ["1", None], ids=["HF_HUB_OFFLINE=1", "no-offline-flag"])
def test_pretrained_without_network_fails_fast_with_a_clear_message(offline, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # never a cached copy
    if offline is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        if hub_reachable():
            pytest.skip("the Hugging Face hub is reachable from here")
    start = time.monotonic()
    with pytest.raises(ConfigError, match="backbone.pretrained=true.*resnet18.*checkpoint"):
        TimmBackbone("resnet18", [5], pretrained=True)
    print(f"failed after {time.monotonic() - start:.1f} s")  # hub retries alone take ~50 s
