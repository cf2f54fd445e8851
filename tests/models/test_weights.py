"""Local checkpoints into the backbone: timm and torchvision names, prefixes, 3-channel stems."""

from __future__ import annotations

import logging
import random

import pytest
import timm
import torch
import torchvision

from fpam_lightning.models import build_classifier
from fpam_lightning.models.backbones import TimmBackbone
from fpam_lightning.models.weights import load_backbone_checkpoint
from fpam_lightning.utils.errors import ConfigError
from fpam_lightning.utils.safe_load import CheckpointError, UnsafeCheckpointError


class Opaque:
    """Any pickled object: what weights_only loading refuses, since unpickling can run code."""


TIMM = "fpam_lightning.models.backbones.TimmBackbone"


def source_resnet18() -> torch.nn.Module:
    """A whole timm ResNet18 (with its fc) as another project would save it, paper stem."""
    torch.manual_seed(1)
    net = timm.create_model("resnet18", in_chans=1, num_classes=7)
    net.conv1.stride = (1, 1)
    for m in net.modules():  # non-trivial BN statistics, so buffers are checked too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def test_checkpoint_from_a_source_model_gives_identical_outputs(tmp_path, caplog):
    src = source_resnet18()
    path = tmp_path / "audioset.pt"
    # Wrapped and prefixed as DataParallel training scripts save it.
    torch.save({"model": {f"module.{k}": v for k, v in src.state_dict().items()}}, path)
    torch.manual_seed(2)
    dst = TimmBackbone("resnet18", [5]).eval()
    x = torch.randn(2, 1, 41, 64)
    with torch.no_grad():
        assert not torch.allclose(dst(x)[0], src.forward_features(x))
        with caplog.at_level(logging.INFO, logger="fpam_lightning.models.weights"):
            report = load_backbone_checkpoint(dst, path, prefix="module")
        torch.testing.assert_close(dst(x)[0], src.forward_features(x), rtol=0, atol=0)
    assert report["dropped_classifier"] == ["fc.bias", "fc.weight"]
    assert report["missing"] == [] and report["mismatched"] == []
    assert "dropped the source classifier" in caplog.text


def test_whole_network_loads_a_checkpoint_through_the_config(tmp_path):
    src = source_resnet18()
    path = tmp_path / "w.pt"
    torch.save(src.state_dict(), path)
    cfg = {
        "features": {},
        "attention": {"_target_": "fpam_lightning.models.fpam.GlobalPoolHead"},
        "model": {},
        "backbone": {"_target_": TIMM, "name": "resnet18", "checkpoint": str(path)},
    }
    net = build_classifier(cfg, 3).eval()
    spec = torch.randn(1, 1, 21, 64)
    with torch.no_grad():
        torch.testing.assert_close(net.classify(spec).fused, src.forward_features(spec))
    with pytest.raises(ConfigError, match="choose one source of weights"):
        build_classifier({**cfg, "backbone": {**cfg["backbone"], "pretrained": True}}, 3)


def test_torchvision_resnet18_loads_with_its_rgb_stem_summed(tmp_path, caplog):
    tv = torchvision.models.resnet18(weights=None)
    path = tmp_path / "tv.pth"
    torch.save(tv.state_dict(), path)
    dst = TimmBackbone("resnet18", [3, 4, 5])
    with caplog.at_level(logging.INFO, logger="fpam_lightning.models.weights"):
        report = load_backbone_checkpoint(dst, path, keys="torchvision")
    assert report["missing"] == [] and report["unexpected"] == []
    assert report["dropped_classifier"] == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(dst.body.conv1.weight, tv.conv1.weight.sum(1, keepdim=True))
    torch.testing.assert_close(dst.body.layer4[1].bn2.running_var, tv.layer4[1].bn2.running_var)
    assert "adapting conv1.weight from 3 to 1 input channels" in caplog.text


def test_shape_mismatch_fails_clearly_unless_partial(tmp_path):
    state = source_resnet18().state_dict()
    state["layer1.0.conv1.weight"] = torch.zeros(32, 64, 3, 3)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ConfigError, match=r"layer1\.0\.conv1\.weight.*backbone\.partial=true"):
        load_backbone_checkpoint(TimmBackbone("resnet18", [5]), path)
    dst = TimmBackbone("resnet18", [5])
    before = dst.body.layer1[0].conv1.weight.clone()
    report = load_backbone_checkpoint(dst, path, partial=True)
    assert [m.split(":")[0] for m in report["mismatched"]] == ["layer1.0.conv1.weight"]
    torch.testing.assert_close(dst.body.layer1[0].conv1.weight, before)  # kept, not loaded
    torch.testing.assert_close(dst.body.layer2[0].conv1.weight, state["layer2.0.conv1.weight"])


def test_missing_keys_wrong_prefix_and_unsafe_files_fail_clearly(tmp_path):
    state = source_resnet18().state_dict()
    partial = {k: v for k, v in state.items() if not k.startswith("layer4.")}
    torch.save(partial, tmp_path / "p.pt")
    with pytest.raises(ConfigError, match=r"missing key\(s\): layer4"):
        load_backbone_checkpoint(TimmBackbone("resnet18", [5]), tmp_path / "p.pt")
    assert load_backbone_checkpoint(TimmBackbone("resnet18", [5]), tmp_path / "p.pt", partial=True)[
        "missing"
    ][0].startswith("layer4.")
    torch.save({f"encoder.{k}": v for k, v in state.items()}, tmp_path / "e.pt")
    with pytest.raises(ConfigError, match="checkpoint_prefix"):
        load_backbone_checkpoint(TimmBackbone("resnet18", [5]), tmp_path / "e.pt")
    torch.save({"weights": state, "optimizer": Opaque()}, tmp_path / "o.pt")
    with pytest.raises(
        UnsafeCheckpointError,
        match=r"^refusing to load backbone\.checkpoint=.*o\.pt: it holds Python objects "
        rf"\({__name__}\.Opaque\).*could run code.*weights_only",
    ):
        load_backbone_checkpoint(TimmBackbone("resnet18", [5]), tmp_path / "o.pt")
    (tmp_path / "r.pt").write_bytes(random.Random(0).randbytes(2048))
    with pytest.raises(
        CheckpointError,
        match=r"^backbone\.checkpoint=.*r\.pt is not a PyTorch checkpoint \(cannot be read: ",
    ):
        load_backbone_checkpoint(TimmBackbone("resnet18", [5]), tmp_path / "r.pt")
    with pytest.raises(CheckpointError, match=r"^backbone\.checkpoint=.*absent\.pt is not a file"):
        load_backbone_checkpoint(TimmBackbone("resnet18", [5]), tmp_path / "absent.pt")
