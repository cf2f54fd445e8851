"""checkpoint: loading a training checkpoint safely, and clear errors for anything else.

Every load path (evaluate / predict / export, resuming training, backbone.checkpoint) goes
through `utils.safe_load.safe_torch_load`; the files here are real ones written by the test.
"""

from __future__ import annotations

import pickle
import random

import pytest
import torch
from analysis_run import trained_run

from fpam_lightning.models.backbones import TimmBackbone
from fpam_lightning.models.weights import load_backbone_checkpoint
from fpam_lightning.training.checkpoint import (
    CheckpointError,
    SafeCheckpointIO,
    UnsafeCheckpointError,
    load_checkpoint,
    read_checkpoint,
    safe_torch_load,
)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tiny_overrides):
    return trained_run(tmp_path_factory, tiny_overrides) / "checkpoints" / "last.ckpt"


def test_loads_module_names_and_settings(ckpt):
    loaded = load_checkpoint(ckpt)
    assert loaded.class_names == [f"class_{i:02d}" for i in range(4)]
    assert loaded.sample_rate == 16000 and loaded.clip_samples == 8000
    assert not loaded.module.training
    with torch.no_grad():
        assert loaded.net(torch.zeros(2, 8000)).shape == (2, 4)


def test_a_checkpoint_from_before_heads_and_backbones_were_classes_loads_strictly(ckpt, tmp_path):
    """Until then the head and backbone were chosen by name, model.variant and model.classifier
    beside them, and each node held every option's keys (null where unused)."""
    raw = torch.load(ckpt, weights_only=True)
    att = raw["hyper_parameters"]["net"]["attention"]
    old = {k: att[k] for k in ("name", "levels", "channels")} | dict.fromkeys(
        ("align_kernel", "global_branch", "baseline_logits")
    )
    raw["hyper_parameters"]["net"]["attention"] = old
    backbone = raw["hyper_parameters"]["net"]["backbone"]
    backbone.pop("_target_")
    backbone["dropout"] = None  # the tutorial CNN's key, in every backbone node then
    torch.save(raw, tmp_path / "old.ckpt")
    loaded = load_checkpoint(tmp_path / "old.ckpt")
    assert type(loaded.net.head).__name__ == "PyramidAttentionHead" and old["name"] == "fpam"
    with torch.no_grad():
        assert torch.equal(
            loaded.net(torch.ones(1, 8000)), load_checkpoint(ckpt).net(torch.ones(1, 8000))
        )


def test_bad_checkpoints_give_clear_errors(ckpt, tmp_path):
    with pytest.raises(CheckpointError, match="is not a file"):
        load_checkpoint(tmp_path / "missing.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint \\(cannot be read: "):
        load_checkpoint(garbage)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"lr": 1}}, other)
    with pytest.raises(CheckpointError, match="not written by fpam_lightning.train"):
        load_checkpoint(other)
    # Our format, but weights of a different network than its config says.
    raw = torch.load(ckpt, weights_only=True)
    raw["hyper_parameters"]["net"]["attention"]["channels"] = 48
    torch.save(raw, tmp_path / "mismatch.ckpt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "mismatch.ckpt")


class Opaque:
    """A custom class: a checkpoint holding one needs a full unpickler, which can run code."""

    def __init__(self):
        self.note = "anything"


class Marker:
    """Unpickling this creates `path`: a stand-in for arbitrary code in a pickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# (what loads it, the config key its messages name)
LOADERS = {
    "evaluate": (read_checkpoint, "ckpt_path"),
    "resume": (SafeCheckpointIO().load_checkpoint, "ckpt_path"),
    "backbone": (
        lambda p: load_backbone_checkpoint(TimmBackbone("resnet18", [5]), p),
        "backbone.checkpoint",
    ),
    "any": (safe_torch_load, "checkpoint"),
}


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize(
    "content,reason",
    [
        (random.Random(0).randbytes(4096), "it is neither a zip archive nor a pickle"),
        (b"", "the file is empty"),
        (b"epoch,loss\n0,1.5\n", "it is neither a zip archive nor a pickle"),
    ],
    ids=["random-bytes", "empty", "text"],
)
def test_a_file_that_is_no_checkpoint_is_reported_as_such(tmp_path, loader, content, reason):
    load, setting = LOADERS[loader]
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load(path)
    msg = str(err.value)
    assert not isinstance(err.value, UnsafeCheckpointError)
    assert f"{path} is not a PyTorch checkpoint (cannot be read: {reason}" in msg
    assert msg.startswith(setting) and "could run code" not in msg and "\n" not in msg


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_truncated_checkpoint_is_unreadable_not_unsafe(tmp_path, loader):
    load, _ = LOADERS[loader]
    path = tmp_path / "cut.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(CheckpointError, match=r"is not a PyTorch checkpoint \(cannot be read: \w+"):
        load(path)


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize("how", ["torch.save", "torch.save legacy", "pickle.dump"])
def test_a_pickle_holding_objects_is_refused_as_unsafe(tmp_path, loader, how):
    load, setting = LOADERS[loader]
    path = tmp_path / "objects.ckpt"
    ckpt = {"state_dict": {"w": torch.zeros(3)}, "extra": Opaque()}
    if how == "pickle.dump":
        with open(path, "wb") as f:
            pickle.dump(ckpt, f)
    else:
        torch.save(ckpt, path, _use_new_zipfile_serialization=how == "torch.save")
    with pytest.raises(UnsafeCheckpointError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"refusing to load {setting}") and str(path) in msg
    # A plain pickle of tensors also names torch.storage._load_from_bytes, refused as well.
    objects = msg.split("holds Python objects (", 1)[1].split(")", 1)[0].split(", ")
    assert f"{__name__}.Opaque" in objects
    assert "could run code" in msg and "weights_only" in msg and "not a PyTorch" not in msg


def test_the_refusal_runs_no_code_and_names_what_would_run(tmp_path):
    marker = tmp_path / "created-by-unpickling"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": Marker(marker)}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"holds Python objects \(\w*io\.open\)"):
        safe_torch_load(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is real: a full unpickler runs it
    assert marker.exists()


def test_missing_paths_name_the_setting(tmp_path):
    absent = tmp_path / "absent.ckpt"
    with pytest.raises(CheckpointError, match=rf"^ckpt_path={absent} is not a file: point it"):
        read_checkpoint(absent)
    with pytest.raises(CheckpointError, match=rf"^backbone.checkpoint={absent} is not a file$"):
        LOADERS["backbone"][0](absent)
    with pytest.raises(CheckpointError, match=rf"^checkpoint {absent} is not a file$"):
        safe_torch_load(absent)
    with pytest.raises(CheckpointError, match="^ckpt_path=None is not a file"):
        read_checkpoint(None)
    with pytest.raises(FileNotFoundError):  # what Lightning expects of a CheckpointIO
        SafeCheckpointIO().load_checkpoint(absent)


def test_tensor_only_files_load(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"state_dict": {"w": torch.arange(3.0)}, "epoch": 2}, path)
    assert torch.equal(safe_torch_load(path)["state_dict"]["w"], torch.arange(3.0))
    assert SafeCheckpointIO().load_checkpoint(path)["epoch"] == 2
