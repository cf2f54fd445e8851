"""features=efficientat: exactly the front end EfficientAT's AudioSet weights were trained on.

Two proofs. The numbers: the front end equals method.md section 4 written out in numpy (a
periodic window or a missing pre-emphasis is far outside the tolerance). The meaning: with the
AudioSet head kept and no training, mn04_as tags real ESC-10 clips with their AudioSet label in
its top 5 for at least 80 % of them, and a front end slightly off (another log offset, no
pre-emphasis, no shift) falls below that.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from helpers import AUDIOSET_LABELS
from torchaudio.compliance.kaldi import get_mel_banks

from fpam_lightning.data.audio import load_audio
from fpam_lightning.models.efficientat import EfficientATBackbone
from fpam_lightning.models.frontend import EfficientATMel

# ESC-10's classes and the AudioSet labels that name them.
AUDIOSET_NAMES = {
    "dog": ["Dog", "Bark"],
    "rooster": ["Chicken, rooster", "Crowing, cock-a-doodle-doo"],
    "rain": ["Rain", "Raindrop", "Rain on surface"],
    "sea_waves": ["Ocean", "Waves, surf"],
    "crackling_fire": ["Fire", "Crackle"],
    "crying_baby": ["Baby cry, infant cry", "Crying, sobbing"],
    "sneezing": ["Sneeze"],
    "clock_tick": ["Tick", "Tick-tock", "Clock"],
    "helicopter": ["Helicopter"],
    "chainsaw": ["Chainsaw"],
}
CLIPS_PER_CLASS = 8


def reference(wave: np.ndarray, periodic: bool = False, preemphasis: float = 0.97) -> np.ndarray:
    """method.md section 4 in numpy: (time, mel)."""
    x = np.concatenate([wave[:1], wave[1:] - preemphasis * wave[:-1]])
    n = np.arange(800)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / (800 if periodic else 799))
    window = np.pad(window, (112, 112))  # centred in n_fft = 1024
    x = np.pad(x, (512, 512), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::320]
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    bank, _ = get_mel_banks(128, 1024, 32000.0, 0.0, 15000.0, 100.0, -500.0, 1.0)
    bank = np.pad(bank.numpy(), ((0, 0), (0, 1)))
    return (np.log(power @ bank.T + 1e-5) + 4.5) / 5


def test_the_front_end_is_method_md_section_4():
    wave = np.random.default_rng(0).standard_normal(32000).astype(np.float64) * 0.1
    ours = EfficientATMel().eval()(torch.from_numpy(wave).float()[None])[0, 0].double().numpy()
    assert ours.shape == (101, 128)  # 1 s: 32000 // 320 + 1 frames
    assert np.abs(ours - reference(wave)).max() < 1e-3
    # What the tolerance tells apart: a periodic window, no pre-emphasis.
    assert np.abs(ours - reference(wave, periodic=True)).max() > 1e-2
    assert np.abs(ours - reference(wave, preemphasis=0.0)).max() > 1e-1


def test_jitter_moves_the_band_edges_in_training_only():
    fe = EfficientATMel(jitter=True)
    wave = torch.randn(1, 16000)
    fe.train()
    torch.manual_seed(0)
    a = fe(wave)
    b = fe(wave)
    assert not torch.equal(a, b)
    fe.eval()
    assert torch.equal(fe(wave), fe(wave))


@pytest.fixture(scope="module")
def tagging_set(esc10_root, mn04_file):
    """The first 8 clips of each ESC-10 class, decoded at 32 kHz, and the pretrained tagger."""
    rows = list(csv.DictReader((esc10_root / "meta" / "esc50.csv").open()))
    chosen = [r for c in AUDIOSET_NAMES for r in [r for r in rows if r["category"] == c][:8]]
    waves = torch.stack([load_audio(esc10_root / "audio" / r["filename"], 32000, 160000)
                         for r in chosen])  # fmt: skip
    names = [r["display_name"] for r in csv.DictReader(AUDIOSET_LABELS.open())]
    net = EfficientATBackbone("mn04_as", [5], checkpoint=str(mn04_file), keep_audioset_head=True)
    return waves, [r["category"] for r in chosen], names, net.eval()


def top5_rate(tagging_set, frontend: EfficientATMel) -> float:
    waves, categories, names, net = tagging_set
    top = net.audioset_logits(frontend.eval()(waves)).topk(5, -1).indices
    pairs = zip(categories, top.tolist(), strict=True)
    hits = [any(names[i] in AUDIOSET_NAMES[c] for i in t) for c, t in pairs]
    return sum(hits) / len(hits)


def test_the_pretrained_model_tags_real_clips_through_this_front_end(tagging_set):
    assert len(tagging_set[1]) == len(AUDIOSET_NAMES) * CLIPS_PER_CLASS
    assert top5_rate(tagging_set, EfficientATMel()) >= 0.80


@pytest.mark.parametrize(
    "off", [{"log_offset": 1e-3}, {"preemphasis": 0.0}, {"shift": 0.0}], ids=str
)
def test_a_front_end_slightly_off_fails_the_tagging_test(tagging_set, off):
    assert top5_rate(tagging_set, EfficientATMel(**off)) < 0.80
