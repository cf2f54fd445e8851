"""Cropping and augmentation (training/augment.py): what each transform does, that the `augment`
group composes, and that a seeded batch draws its random numbers exactly as before the split
(crop offsets, then time flips, then SpecAugment masks), so seeded runs keep their numbers."""

from __future__ import annotations

import pytest
import torch
import torchaudio
from helpers import compose_train
from omegaconf import OmegaConf

from fpam_lightning.training import augment
from fpam_lightning.training.augment import Augmentation, SpecAugmentMasks, TimeFlip, crop

ON = {"time_flip": 0.5, "freq_mask": 6, "time_mask": 5, "num_masks": 2}


def _config(overrides: list[str], tmp_path) -> dict:
    return OmegaConf.to_container(compose_train(overrides, tmp_path).augment, resolve=True)


def test_crop_centre_pad_and_identity():
    wave = torch.arange(20.0).repeat(3, 1)
    assert torch.equal(crop(wave, 10, train=False), wave[:, 5:15])
    assert torch.equal(crop(wave, 20, train=True), wave)
    padded = crop(wave, 25, train=True)
    assert torch.equal(padded[:, :20], wave) and not padded[:, 20:].any()


def test_training_crop_takes_one_random_offset_per_clip():
    wave = torch.arange(100.0).repeat(16, 1)
    torch.manual_seed(0)
    crops = crop(wave, 40, train=True)
    torch.manual_seed(0)
    starts = torch.randint(0, 61, (16, 1))
    assert torch.equal(crops, starts + torch.arange(40.0))
    assert len(set(starts.flatten().tolist())) > 1


def test_time_flip_reverses_time_only():
    spec = torch.randn(4, 1, 7, 3)
    assert torch.equal(TimeFlip(1.0)(spec), spec.flip(-2))
    assert TimeFlip.from_config({"time_flip": 0.0}) is None


def test_masks_run_frequency_then_time_per_round():
    masks = SpecAugmentMasks.from_config({"freq_mask": 4, "time_mask": 3, "num_masks": 2})
    kinds = [type(m) for m in masks.masks]
    F, T = torchaudio.transforms.FrequencyMasking, torchaudio.transforms.TimeMasking
    assert kinds == [F, T, F, T]
    assert SpecAugmentMasks.from_config({"freq_mask": 0, "time_mask": 0, "num_masks": 2}) is None
    assert SpecAugmentMasks.from_config({"freq_mask": 4, "time_mask": 3, "num_masks": 0}) is None


def test_the_default_group_is_all_off_and_draws_nothing(tmp_path):
    cfg = _config([], tmp_path)
    assert cfg == {"time_flip": 0.0, "freq_mask": 0, "time_mask": 0, "num_masks": 2}
    aug = Augmentation(cfg)
    assert len(aug.wave) == len(aug.spec) == 0
    spec, state = torch.randn(2, 1, 5, 4), torch.get_rng_state()
    assert aug.spec(spec) is spec and torch.equal(torch.get_rng_state(), state)


def test_group_keys_override_from_the_command_line_and_experiments(tmp_path):
    assert _config([f"augment.{k}={v}" for k, v in ON.items()], tmp_path / "a") == ON
    tutorial = _config(["+experiment=us8k_tutorial"], tmp_path / "b")
    assert tutorial == {"time_flip": 0.5, "freq_mask": 0, "time_mask": 0, "num_masks": 2}


def test_transforms_run_in_their_listed_order():
    assert not augment.WAVE
    assert list(augment.SPEC) == [TimeFlip, SpecAugmentMasks]
    assert [type(t) for t in Augmentation(ON).spec] == [TimeFlip, SpecAugmentMasks]


def _before_the_split(wave: torch.Tensor, length: int, spectrogram, cfg: dict) -> torch.Tensor:
    """The module's own crop + augment before the split, verbatim: the reference stream."""
    n = wave.shape[-1]
    starts = torch.randint(0, n - length + 1, (wave.shape[0], 1))
    spec = spectrogram(wave.gather(1, starts + torch.arange(length)))
    flip = torch.rand(spec.shape[0]) < cfg["time_flip"]
    spec = torch.where(flip[:, None, None, None], spec.flip(-2), spec)
    masks = []
    for _ in range(cfg["num_masks"]):
        masks.append(torchaudio.transforms.FrequencyMasking(cfg["freq_mask"]))
        masks.append(torchaudio.transforms.TimeMasking(cfg["time_mask"]))
    return torch.nn.Sequential(*masks)(spec.transpose(-1, -2)).transpose(-1, -2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_seeded_batch_is_bit_identical_to_before_the_split(seed):
    wave = torch.randn(8, 3000)

    def spectrogram(w: torch.Tensor) -> torch.Tensor:  # (batch, 1, time, mels), like the model
        return w.reshape(w.shape[0], 1, 40, 50)

    torch.manual_seed(seed)
    expected = _before_the_split(wave, 2000, spectrogram, ON)
    after_ref = torch.rand(3)
    aug = Augmentation(ON)
    torch.manual_seed(seed)
    got = aug.spec(spectrogram(aug.wave(crop(wave, 2000, train=True))))
    assert torch.equal(got, expected)
    assert torch.equal(torch.rand(3), after_ref)  # and left the stream where it was


def test_the_module_delegates_and_keeps_no_augmentation_state(tmp_path):
    from fpam_lightning.training.module import AudioClassificationModule

    net = OmegaConf.to_container(
        compose_train(["backbone=tutorial_cnn", "attention=none"], tmp_path), resolve=True
    )
    module = AudioClassificationModule(
        net={k: net[k] for k in ("features", "backbone", "attention", "model")},
        num_classes=3,
        clip_samples=800,
        augment=ON,
    )
    assert [type(t) for t in module.augmentation.spec] == [TimeFlip, SpecAugmentMasks]
    assert not [k for k in module.state_dict() if k.startswith("augmentation")]
    wave = torch.randn(2, 1000)
    assert torch.equal(module.crop(wave, train=False), crop(wave, 800, train=False))
