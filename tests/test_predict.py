"""predict: real WAV files of any rate, length and channel count; bad input fails clearly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from analysis_run import trained_run
from helpers import run_cli, write_wav

NAMES = [f"class_{i:02d}" for i in range(4)]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides) / "checkpoints" / "last.ckpt"


def tone(seconds: float, rate: int, freq: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(0).standard_normal(
        len(t)
    )
    return mono if channels == 1 else np.stack([mono, 0.5 * mono], axis=1)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def probs_of(row: dict) -> np.ndarray:
    return np.array([float(row[f"prob_{n}"]) for n in NAMES])


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error" in line.lower()]


def test_long_stereo_short_8k_and_folder(ckpt, tmp_path):
    # 2 s of stereo at 44.1 kHz against a 0.5 s model: windows every 0.25 s, the last flush.
    long = write_wav(tmp_path / "audio" / "long_stereo.wav", tone(2.0, 44100, 440, 2), 44100)
    write_wav(tmp_path / "audio" / "sub" / "short_8k.wav", tone(0.2, 8000, 300), 8000)
    assert sf.info(long).channels == 2 and sf.info(long).samplerate == 44100
    out_csv, win_csv = tmp_path / "pred.csv", tmp_path / "windows.csv"
    proc = run_cli(
        "fpam_lightning.predict",
        f"ckpt_path={ckpt}",
        str(tmp_path / "audio"),
        "top_k=2",
        f"csv={out_csv}",
        f"windows_csv={win_csv}",
    )
    assert "(7 windows, 2.00 s)" in proc.stdout and "(1 window, 0.20 s)" in proc.stdout
    rows = {Path(r["file"]).name: r for r in read_rows(out_csv)}
    assert set(rows) == {"long_stereo.wav", "short_8k.wav"}  # the folder was searched recursively
    windows = read_rows(win_csv)
    for name, n_windows in (("long_stereo.wav", 7), ("short_8k.wav", 1)):
        row = rows[name]
        assert row["status"] == "ok" and int(row["num_windows"]) == n_windows
        p = probs_of(row)
        assert p.sum() == pytest.approx(1.0, abs=1e-4)
        assert row["top1_class"] == NAMES[int(p.argmax())]
        mine = [w for w in windows if Path(w["file"]).name == name]
        assert [int(w["window"]) for w in mine] == list(range(n_windows))
        # The file's probabilities are the mean of its window scores.
        np.testing.assert_allclose(np.mean([probs_of(w) for w in mine], axis=0), p, atol=2e-6)
        assert f"{name}: {row['top1_class']} " in proc.stdout
    long_w = [w for w in windows if Path(w["file"]).name == "long_stereo.wav"]
    assert [float(w["start_s"]) for w in long_w] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert float(long_w[-1]["end_s"]) == pytest.approx(2.0)


def test_single_file_matches_the_model(ckpt, tmp_path):
    """A clip exactly the training length is one window scored as the module scores it."""
    from fpam_lightning.predict import main
    from fpam_lightning.training.checkpoint import load_checkpoint

    data = tone(0.5, 16000, 1000)
    wav = write_wav(tmp_path / "clip.wav", data, 16000)
    out_csv = tmp_path / "one.csv"
    assert main([f"ckpt_path={ckpt}", str(wav), f"csv={out_csv}"]) == 0
    (row,) = read_rows(out_csv)
    loaded = load_checkpoint(ckpt)
    wave = torch.from_numpy(sf.read(wav, dtype="float32")[0])[None]
    with torch.no_grad():
        ref = loaded.net(wave).softmax(-1)[0].numpy()
    np.testing.assert_allclose(probs_of(row), ref, atol=1e-5)


def test_unreadable_file_in_folder_others_still_scored(ckpt, tmp_path):
    folder = tmp_path / "mixed"
    write_wav(folder / "a_good.wav", tone(0.5, 22050, 500), 22050)
    (folder / "b_broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(64))
    write_wav(folder / "c_good.wav", tone(1.0, 16000, 800), 16000)
    out_csv = tmp_path / "mixed.csv"
    proc = run_cli(
        "fpam_lightning.predict", f"ckpt_path={ckpt}", str(folder), f"csv={out_csv}", check=False
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    broken = [line for line in proc.stderr.splitlines() if "b_broken.wav: error:" in line]
    assert len(broken) == 1
    assert "1 of 3 file(s) could not be read" in proc.stderr
    rows = {Path(r["file"]).name: r for r in read_rows(out_csv)}
    assert [rows[n]["status"] for n in ("a_good.wav", "b_broken.wav", "c_good.wav")] == [
        "ok",
        "error",
        "ok",
    ]
    assert rows["b_broken.wav"]["error"] and rows["b_broken.wav"]["top1_class"] == ""
    assert probs_of(rows["c_good.wav"]).sum() == pytest.approx(1.0, abs=1e-4)
    assert "a_good.wav: " in proc.stdout and "c_good.wav: " in proc.stdout


def test_nan_and_inf_files_are_errors_and_the_others_still_scored(ckpt, tmp_path):
    folder = tmp_path / "mixed"
    nan, inf = tone(0.5, 16000, 500).astype(np.float32), tone(2.0, 16000, 500)
    nan[1000:1004] = np.nan
    inf[-1] = -np.inf  # in the last window of a long file
    write_wav(folder / "a_nan.wav", nan, 16000, subtype="FLOAT")
    write_wav(folder / "b_good.wav", tone(0.5, 16000, 800), 16000)
    write_wav(folder / "c_inf.wav", inf, 16000, subtype="FLOAT")
    proc = run_cli("fpam_lightning.predict", f"ckpt_path={ckpt}", str(folder), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert " nan" not in proc.stdout  # before: "a_nan.wav: class_00 nan, ..."
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert errors == [
        f"{folder / 'a_nan.wav'}: error: non-finite samples: 4 NaN value(s), the first at 0.062 s",
        f"{folder / 'c_inf.wav'}: error: non-finite samples: 1 infinite value(s), the first at "
        "2.000 s",
    ]
    assert "b_good.wav: class_" in proc.stdout
    assert (
        proc.stderr.strip().splitlines()[-1]
        == "2 of 3 file(s) could not be read or scored (see above)"
    )


def test_bad_checkpoints_are_one_line_errors(ckpt, tmp_path, capsys):
    from fpam_lightning.predict import main

    wav = write_wav(tmp_path / "x.wav", tone(0.5, 16000, 440), 16000)
    plain = tmp_path / "plain_state_dict.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), plain)
    foreign = tmp_path / "foreign.ckpt"
    torch.save(
        {
            "state_dict": {"layer.weight": torch.zeros(2, 3)},
            "epoch": 3,
            "hyper_parameters": {"lr": 0.1, "hidden": 64},
        },
        foreign,
    )
    # Ours, but its config names another architecture than its weights (attention=none).
    other = torch.load(ckpt, weights_only=True)
    other["hyper_parameters"]["net"]["attention"] = {
        "_target_": "fpam_lightning.models.fpam.GlobalPoolHead",
        "name": "none",
        "levels": [5],
    }
    torch.save(other, tmp_path / "other_architecture.ckpt")
    cases = {
        tmp_path / "missing.ckpt": "is not a file",
        plain: "is not a Lightning checkpoint",
        foreign: "not written by fpam_lightning.train",
        tmp_path / "other_architecture.ckpt": "says it was trained with backbone.name=resnet18, "
        "attention.name=none, model.variant=paper, features.n_mels=64, data.num_classes=4, but "
        "its weights do not fit that model (",
    }
    # As a user runs it (a subprocess, so a traceback would show) ...
    proc = run_cli(
        "fpam_lightning.predict", f"ckpt_path={tmp_path / 'missing.ckpt'}", str(wav), check=False
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stdout == ""
    (line,) = error_lines(proc.stderr)
    assert line.startswith("error: ") and "is not a file" in line, proc.stderr
    # ... and in-process for the other cases (same entry point, no interpreter start-up each).
    for path, message in cases.items():
        assert main([f"ckpt_path={path}", str(wav)]) == 2
        err = capsys.readouterr()
        assert err.out == ""
        (line,) = error_lines(err.err)
        assert line.startswith("error: ") and message in line, err.err
    assert main([f"ckpt_path={ckpt}", str(wav), "top_k=three"]) == 2
    assert capsys.readouterr().err == "error: top_k='three' is not an integer\n"
