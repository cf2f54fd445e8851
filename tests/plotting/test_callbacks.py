"""The FigureLogger callback: the paper's figures of the held-out fold at chosen epochs while
training, as files and as W&B images.

Sizes follow from each figure's figsize at 100 dpi (no tight bbox), for the tiny run's 4
classes, 3 attention levels and 2 epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from analysis_run import trained_run
from helpers import png_shape, run_cli


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides)


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
