"""figures: every sub-command writes a PNG of the expected size; the training callback draws too.

Sizes follow from each figure's figsize at 100 dpi (no tight bbox), for the tiny run's 4
classes, 3 attention levels and 2 epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from analysis_run import trained_run
from helpers import run_cli


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides)


def png_shape(path: Path) -> tuple[int, int]:
    """(height, width) of a non-empty PNG, read back by Matplotlib."""
    assert path.is_file() and path.stat().st_size > 0, path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    img = mpimg.imread(path)
    assert img.std() > 0, f"{path} is blank"
    return img.shape[:2]


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


def test_figure_logger_wrote_epoch_figures(run_dir):
    """The shared run trained with callbacks=figures, figure_epochs=[1], 2 epochs (+ the last)."""
    figs = run_dir / "figures"
    for epoch in (1, 2):
        assert png_shape(figs / f"confusion_epoch{epoch:03d}.png") == (400, 500)
        assert png_shape(figs / f"tsne_epoch{epoch:03d}.png") == (400, 580)
        assert png_shape(figs / f"attention_epoch{epoch:03d}.png") == (920, 1240)
        assert (figs / f"embeddings_epoch{epoch:03d}.npz").stat().st_size > 0
    assert sorted(p.name for p in figs.glob("*.png")) == sorted(
        f"{k}_epoch{e:03d}.png" for k in ("attention", "confusion", "tsne") for e in (1, 2)
    )


@pytest.mark.slow
def test_figure_logger_logs_images_to_wandb(tiny_overrides, tmp_path):
    """A second tiny run with the offline W&B logger: the images reach the run's records."""
    from wandb_records import read_records

    out = tmp_path / "run"
    run_cli(
        "fpam_lightning.train",
        *tiny_overrides,
        "trainer.max_epochs=2",
        "logger=wandb",
        "callbacks=figures",
        "callbacks.figure_epochs=[1]",
        f"hydra.run.dir={out}",
    )
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "completed"
    (wb,) = (out / "wandb").glob("offline-run-*")
    # Each history record holds, per image key, its fields as nested keys [key, field].
    logged: dict[str, list[dict]] = {}
    for r in read_records(next(wb.glob("run-*.wandb"))):
        if r.WhichOneof("record_type") != "history":
            continue
        step: dict[str, dict] = {}
        for item in r.history.item:
            if len(item.nested_key) == 2 and item.nested_key[0].startswith("figures/"):
                key, name = item.nested_key
                step.setdefault(key, {})[name] = json.loads(item.value_json)
        for key, fields in step.items():
            logged.setdefault(key, []).append(fields)
    sizes = {
        "figures/confusion_matrix": (400, 500),
        "figures/tsne": (400, 580),
        "figures/attention": (920, 1240),
    }
    assert set(logged) == set(sizes)
    for key, images in logged.items():
        assert len(images) == 2, key  # after epoch 1 and after the last (2nd) epoch
        for img in images:
            assert img["_type"] == "images/separated" and img["format"] == "png"
            assert (img["height"], img["width"]) == sizes[key]
            (name,) = img["filenames"]
            assert png_shape(wb / "files" / name) == sizes[key]
