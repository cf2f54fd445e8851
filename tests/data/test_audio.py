"""The shared audio core on real WAV files in every encoding UrbanSound8K holds."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from fpam_lightning.data.audio import AudioDecodeError, decode, fix_length, load_audio
from fpam_lightning.data.synthetic import US8K_FORMATS


def sine(freq: float, seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    x = 0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)
    return np.stack([x, x], axis=1) if channels == 2 else x


@pytest.mark.parametrize("subtype,sr,channels", US8K_FORMATS)
@pytest.mark.parametrize("target_sr", [16000, 22050])
def test_every_us8k_format_loads_resampled_mono_fixed_length(
    tmp_path, subtype, sr, channels, target_sr
):
    path = tmp_path / "clip.wav"
    sf.write(path, sine(1000.0, 0.5, sr, channels), sr, subtype=subtype)
    assert sf.info(path).subtype == subtype
    wave = load_audio(path, target_sr, num_samples=target_sr)  # 0.5 s padded to 1 s
    assert wave.dtype == torch.float32 and wave.shape == (target_sr,)
    body, tail = wave[: target_sr // 2 - 50].numpy(), wave[target_sr // 2 + 50 :]
    assert torch.all(tail == 0)  # padded at the end
    spectrum = np.abs(np.fft.rfft(body * np.hanning(len(body))))
    peak_hz = np.argmax(spectrum) * target_sr / len(body)
    assert abs(peak_hz - 1000.0) < 10, peak_hz  # the tone survives resampling at its pitch
    assert 0.4 < np.abs(body).max() < 0.6  # amplitude kept (8-bit unsigned is centred)
    assert abs(body.mean()) < 0.01


def test_stereo_is_mixed_down_and_long_clips_are_cut(tmp_path):
    path = tmp_path / "st.wav"
    left = sine(440.0, 2.0, 16000)
    sf.write(path, np.stack([left, 0.5 * left], axis=1), 16000, subtype="PCM_24")
    wave = load_audio(path, 16000, num_samples=16000)
    assert wave.shape == (16000,)
    np.testing.assert_allclose(wave.numpy(), 0.75 * left[:16000], atol=1e-4)  # the start is kept


def test_fix_length_pads_and_cuts():
    x = torch.arange(5, dtype=torch.float32)
    assert fix_length(x, 3).tolist() == [0, 1, 2]
    assert fix_length(x, 7).tolist() == [0, 1, 2, 3, 4, 0, 0]


def test_silent_clip_is_valid(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(8000, dtype=np.float32), 8000, subtype="PCM_U8")
    wave = load_audio(path, 16000, 16000)
    assert wave.shape == (16000,) and torch.all(wave == 0)


def test_bad_files_raise_with_reason(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, sine(440.0, 1.0, 16000), 16000, subtype="PCM_16")
    raw = good.read_bytes()
    cases = {
        "missing.wav": (None, "file not found"),
        "empty.wav": (b"", "empty file"),
        "truncated.wav": (raw[: len(raw) // 2], "truncated WAV"),
        "garbage.wav": (b"\x00\x01not audio at all" * 20, "cannot decode"),
        "header_only.wav": (raw[:44], "truncated WAV"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(AudioDecodeError, match=message):
            decode(path)


@pytest.mark.parametrize(
    "poison,message",
    [
        ({"nan": [10, 11, 12]}, "3 NaN value\\(s\\), the first at 0.001 s"),
        ({"inf": [8000]}, "1 infinite value\\(s\\), the first at 0.500 s"),
        ({"nan": [40], "-inf": [20]}, "1 NaN and 1 infinite value\\(s\\), the first at 0.001 s"),
    ],
)
def test_non_finite_samples_are_refused(tmp_path, poison, message):
    """A float WAV can hold NaN/Inf, which libsndfile returns as they are: a bad file."""
    data = sine(440.0, 1.0, 16000).astype(np.float32)
    for value, where in poison.items():
        data[where] = float(value)
    path = tmp_path / "poisoned.wav"
    sf.write(path, data, 16000, subtype="FLOAT")
    assert not np.isfinite(sf.read(path)[0]).all()  # the file really holds them
    with pytest.raises(AudioDecodeError, match=f"non-finite samples: {message}"):
        load_audio(path, 16000, 16000)
    stereo = tmp_path / "stereo.wav"  # one bad channel is enough
    sf.write(stereo, np.stack([sine(440.0, 1.0, 16000), data], axis=1), 16000, subtype="DOUBLE")
    with pytest.raises(AudioDecodeError, match="non-finite samples"):
        decode(stereo)
