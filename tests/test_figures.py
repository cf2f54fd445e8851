"""figures: every sub-command writes a PNG of the expected size (the training callback that draws
the same figures: tests/plotting/test_callbacks.py).

Sizes follow from each figure's figsize at 100 dpi (no tight bbox), for the tiny run's 4
classes, 3 attention levels and 2 epochs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_run import trained_run
from helpers import png_shape, run_cli


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides)


def test_confusion_cli_subprocess(run_dir, tmp_path):
    """As a user runs it; the other sub-commands are driven in-process through the same main()."""
    out = tmp_path / "cm.png"
    proc = run_cli(
        "fpam_lightning.figures",
        "confusion",
        str(run_dir / "predictions.csv"),
        "--title",
        "fold 1",
        "--out",
        str(out),
    )
    assert proc.stdout.strip() == str(out)
    assert png_shape(out) == (400, 500)  # side 4 in (+1 in for the colour bar) for 4 classes


@pytest.mark.parametrize(
    "kind,args,shape",
    [
        # 4 classes in the test fold -> 4 rows; the spectrogram + Res-3/4/5 maps -> 4 columns.
        (
            "attention",
            ["{ckpt}", "--predictions", "{run}/predictions.csv", "--per-class"],
            (920, 1240),
        ),
        (
            "tsne",
            ["{run}/figures/embeddings_epoch001.npz", "{run}/figures/embeddings_epoch002.npz"],
            (400, 1000),
        ),  # two panels (epochs) side by side
        ("curves", ["{run}"], (380, 1000)),  # finds csv/metrics.csv under the run folder
        ("box", ["{run}"], (400, 400)),  # one configuration
    ],
)
def test_figure_subcommands(run_dir, tmp_path, capsys, kind, args, shape):
    from fpam_lightning.figures import main

    out = tmp_path / f"{kind}.png"
    fill = {"run": str(run_dir), "ckpt": str(run_dir / "checkpoints" / "last.ckpt")}
    assert main([kind, *(a.format(**fill) for a in args), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert png_shape(out) == shape


def test_attention_from_wav_files_and_errors(run_dir, tmp_path, capsys):
    import numpy as np
    from helpers import write_wav

    from fpam_lightning.figures import main

    wav = write_wav(
        tmp_path / "stereo_44k.wav",
        0.2 * np.random.default_rng(1).standard_normal((44100, 2)),
        44100,
    )
    out = tmp_path / "att.png"
    ckpt = str(run_dir / "checkpoints" / "last.ckpt")
    assert main(["attention", ckpt, str(wav), "--out", str(out)]) == 0
    assert png_shape(out) == (230, 1240)  # one clip, four panels
    capsys.readouterr()
    assert main(["curves", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 2
    assert capsys.readouterr().err.startswith("error: no metrics.csv under")
    assert main(["box", str(tmp_path)]) == 2
    assert "no completed results.json" in capsys.readouterr().err
