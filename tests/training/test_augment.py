"""Cropping and augmentation (training/augment.py): what each transform does, that the `augment`
group composes, and that a seeded batch draws its random numbers in a fixed order (crop offsets,
then the waveform transforms, then time flips, then SpecAugment masks), so seeded runs repeat."""

from __future__ import annotations

import pytest
import torch
import torchaudio
from helpers import compose_train
from omegaconf import OmegaConf

from fpam_lightning.training import augment
from fpam_lightning.training.augment import (
    Augmentation,
    BackgroundMix,
    Gain,
    RandomCrop,
    SpecAugmentMasks,
    TimeFlip,
    TimeShift,
    crop,
    rms,
)

ON = {"time_flip": 0.5, "freq_mask": 6, "time_mask": 5, "num_masks": 2}
WAVE_OFF = {
    "crop_fraction": 1.0,
    "time_shift": 0.0,
    "gain_db": 0.0,
    "background": 0.0,
    "background_snr_db": [0.0, 20.0],
}


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
    assert cfg == {**WAVE_OFF, "time_flip": 0.0, "freq_mask": 0, "time_mask": 0, "num_masks": 2}
    aug = Augmentation(cfg)
    assert len(aug.wave) == len(aug.spec) == 0
    spec, wave, state = torch.randn(2, 1, 5, 4), torch.randn(2, 9), torch.get_rng_state()
    assert aug.spec(spec) is spec and aug.wave(wave) is wave
    assert torch.equal(torch.get_rng_state(), state)


def test_group_keys_override_from_the_command_line_and_experiments(tmp_path):
    assert _config([f"augment.{k}={v}" for k, v in ON.items()], tmp_path / "a") == {
        **WAVE_OFF,
        **ON,
    }
    tutorial = _config(["+experiment=us8k_tutorial"], tmp_path / "b")
    assert tutorial == {
        **WAVE_OFF,
        "time_flip": 0.5,
        "freq_mask": 0,
        "time_mask": 0,
        "num_masks": 2,
    }


def test_transforms_run_in_their_listed_order():
    assert list(augment.WAVE) == [RandomCrop, TimeShift, Gain, BackgroundMix]
    assert list(augment.SPEC) == [TimeFlip, SpecAugmentMasks]
    assert [type(t) for t in Augmentation(ON).spec] == [TimeFlip, SpecAugmentMasks]
    assert not Augmentation(ON).wave
    wave_on = {"time_shift": 0.1, "gain_db": 3.0, "background": 0.5}
    assert [type(t) for t in Augmentation(wave_on).wave] == [TimeShift, Gain, BackgroundMix]


def _reference(wave: torch.Tensor, length: int, spectrogram, cfg: dict) -> torch.Tensor:
    """Crop + flips + per-clip masks written out: the reference random stream."""
    n = wave.shape[-1]
    starts = torch.randint(0, n - length + 1, (wave.shape[0], 1))
    spec = spectrogram(wave.gather(1, starts + torch.arange(length)))
    flip = torch.rand(spec.shape[0]) < cfg["time_flip"]
    spec = torch.where(flip[:, None, None, None], spec.flip(-2), spec)
    masks = []
    for _ in range(cfg["num_masks"]):
        masks.append(torchaudio.transforms.FrequencyMasking(cfg["freq_mask"], iid_masks=True))
        masks.append(torchaudio.transforms.TimeMasking(cfg["time_mask"], iid_masks=True))
    return torch.nn.Sequential(*masks)(spec.transpose(-1, -2)).transpose(-1, -2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_seeded_batch_draws_crop_flips_then_masks(seed):
    wave = torch.randn(8, 3000)

    def spectrogram(w: torch.Tensor) -> torch.Tensor:  # (batch, 1, time, mels), like the model
        return w.reshape(w.shape[0], 1, 40, 50)

    torch.manual_seed(seed)
    expected = _reference(wave, 2000, spectrogram, ON)
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


# --- SpecAugment per clip -----------------------------------------------------------------------
def test_masks_differ_between_clips_of_one_batch():
    """As published: each clip draws its own masks (torchaudio's default shares one per batch)."""
    masks = SpecAugmentMasks(freq_mask=20, time_mask=20, num_masks=1)
    torch.manual_seed(0)
    out = masks(torch.ones(8, 1, 50, 40))  # eight identical clips
    holes = [(o == 0).nonzero().tolist() for o in out]
    assert all(holes) and len({str(h) for h in holes}) > 1
    # Each mask is a full band: whole mel rows or whole frames, within the widths.
    for o in out[:, 0]:
        rows, cols = (o == 0).all(1).sum(), (o == 0).all(0).sum()
        assert rows < 20 and cols < 20 and ((o == 0).sum() == rows * 40 + cols * 50 - rows * cols)


# --- waveform transforms ------------------------------------------------------------------------
def test_time_shift_rolls_each_clip_by_its_drawn_amount():
    wave = torch.randn(6, 100)
    torch.manual_seed(3)
    out = TimeShift(0.2)(wave)
    torch.manual_seed(3)
    shifts = torch.randint(-20, 21, (6, 1)).flatten().tolist()
    assert len(set(shifts)) > 1
    for row, clip, s in zip(out, wave, shifts, strict=True):
        assert torch.equal(row, clip.roll(s))
    assert TimeShift.from_config({"time_shift": 0.0}) is None


def test_gain_moves_the_rms_by_the_drawn_decibels():
    wave = torch.randn(5, 4000) * 0.1
    torch.manual_seed(7)
    out = Gain(6.0)(wave)
    torch.manual_seed(7)
    db = (2 * torch.rand(5) - 1) * 6.0
    measured = 20 * torch.log10(rms(out) / rms(wave))
    assert torch.allclose(measured, db, atol=1e-4) and db.abs().max() <= 6.0
    assert Gain.from_config({"gain_db": 0}) is None


def test_background_is_another_clip_at_the_drawn_snr():
    wave = torch.randn(4, 4000) * torch.tensor([[0.1], [0.5], [0.02], [1.0]])
    torch.manual_seed(11)
    out = BackgroundMix(1.0, 3.0, 12.0)(wave)
    torch.manual_seed(11)
    offset = int(torch.randint(1, 4, (1,)))
    torch.rand(4)  # the per-clip coin flips (all heads at p=1)
    snr = 3.0 + 9.0 * torch.rand(4)
    partner = (torch.arange(4) + offset) % 4
    added = out - wave
    for i in range(4):
        scale = float(added[i].norm() / wave[partner[i]].norm())
        assert torch.allclose(added[i], scale * wave[partner[i]], atol=1e-6)  # a scaled partner
    assert torch.allclose(20 * torch.log10(rms(wave) / rms(added)), snr, atol=1e-3)


def test_background_probability_and_silence():
    wave = torch.randn(8, 500)
    torch.manual_seed(0)
    assert torch.equal(BackgroundMix(1e-9, 0.0, 10.0)(wave), wave)  # never drawn
    silent = torch.cat([wave[:1], torch.zeros(1, 500)])
    assert torch.equal(BackgroundMix(1.0, 0.0, 10.0)(silent)[0], wave[0])  # a silent partner
    assert torch.equal(BackgroundMix(1.0, 0.0, 10.0)(wave[:1]), wave[:1])  # no partner at all
    assert BackgroundMix.from_config({"background": 0.0}) is None


def test_wave_transforms_repeat_under_a_seed_and_keep_shapes():
    cfg = {"time_shift": 0.3, "gain_db": 6.0, "background": 0.5, "background_snr_db": [0, 20]}
    aug, wave = Augmentation(cfg), torch.randn(8, 1600)
    torch.manual_seed(5)
    first = aug.wave(wave)
    torch.manual_seed(5)
    assert torch.equal(aug.wave(wave), first) and first.shape == wave.shape
    torch.manual_seed(6)
    assert not torch.equal(aug.wave(wave), first)
    assert not list(aug.parameters()) and not list(aug.buffers())


def test_random_crop_trains_on_a_window_and_leaves_evaluation_whole():
    aug = augment.Augmentation({"crop_fraction": 0.6})
    wave = torch.arange(1000.0).repeat(4, 1)
    out = aug.wave(wave)
    assert out.shape == (4, 600)
    for row in out:  # a contiguous window of each clip
        assert torch.equal(row, torch.arange(row[0], row[0] + 600))
    assert len(augment.Augmentation({"crop_fraction": 1.0}).wave) == 0  # 1: off
