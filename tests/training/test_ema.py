"""The weight average (training/ema.py, `ema.*`): the update rule, and end to end that
validation, test, results.json, last.ckpt and what evaluate / export load are the average, and
that `ckpt_path=last` resumes it exactly."""

from __future__ import annotations

import numpy as np
import torch
from helpers import compose_train

from fpam_lightning.inference.model_export import export
from fpam_lightning.inference.scoring import score
from fpam_lightning.training.build import build_datamodule
from fpam_lightning.training.callbacks import build_callbacks
from fpam_lightning.training.checkpoint import load_checkpoint
from fpam_lightning.training.ema import EMA, build_ema, ema_update
from fpam_lightning.training.run import train

EMA_ON = ["ema.enabled=true", "ema.decay=0.9"]


def test_update_is_lerp_for_floats_and_follows_counters():
    avg, cur = torch.tensor([0.0, 1.0, 3.3]), torch.tensor([1.0, 1.0, 3.3])
    out = ema_update(avg, cur, torch.tensor(5), decay=0.75)
    assert torch.allclose(out, 0.75 * avg + 0.25 * cur)
    assert out[2] == cur[2]  # a constant stays exactly constant (the default formula drifts)
    count = ema_update(torch.tensor(672), torch.tensor(673), torch.tensor(5), decay=0.9)
    assert count.dtype == torch.long and int(count) == 673  # not truncated to 672


def test_the_switch_builds_lightnings_callback(tiny_overrides, tmp_path):
    from lightning.pytorch.callbacks import WeightAveraging

    assert build_ema({"enabled": False, "decay": 0.9}) is None
    ema = build_ema({"enabled": True, "decay": 0.9})
    assert isinstance(ema, WeightAveraging) and ema.decay == 0.9
    off = compose_train(tiny_overrides, tmp_path / "a")
    assert not off.ema.enabled and not any(
        isinstance(c, EMA)
        for c in build_callbacks(off.callbacks, tmp_path, False, build_ema(off.ema))
    )
    on = compose_train([*tiny_overrides, *EMA_ON], tmp_path / "b")
    assert [
        c.decay
        for c in build_callbacks(on.callbacks, tmp_path, False, build_ema(on.ema))
        if isinstance(c, EMA)
    ] == [0.9]


def _tensors_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_ema_run_tests_saves_and_hands_on_the_average(tiny_overrides, tmp_path):
    figures = [
        "callbacks=figures",
        "callbacks.figure_epochs=[1]",
        "callbacks.extra.figures.tsne=false",
    ]
    cfg = compose_train([*tiny_overrides, *EMA_ON, "trainer.max_epochs=2", *figures], tmp_path)
    results = train(cfg)
    assert results["ema_decay"] == 0.9 and results["status"] == "completed"
    ckpt = torch.load(results["ckpt_path"], map_location="cpu", weights_only=True)
    average, raw = ckpt["state_dict"], ckpt["current_model_state"]
    assert int(ckpt["averaging_state"]["n_averaged"]) == ckpt["global_step"] == 8
    assert not _tensors_equal(average, raw)  # the average is not the last step's weights

    # evaluate / predict / export load through training.checkpoint: they get the average...
    loaded = load_checkpoint(results["ckpt_path"])
    assert _tensors_equal(loaded.module.state_dict(), average)
    # ...and score it exactly as the run's own test pass did.
    dm = build_datamodule(cfg.data)
    dm.prepare_data()
    dm.setup("test")
    scored = score(loaded.module, dm.test_dataloader())
    assert scored.accuracy == results["test_acc"]
    assert abs(scored.loss - results["test_loss"]) < 1e-6
    # The last epoch's figures show the average too.
    drawn = np.load(tmp_path / "figures" / "embeddings_epoch002.npz")
    assert np.allclose(drawn["embeddings"], scored.embeddings, atol=1e-5)
    # export writes the average too.
    info = export(results["ckpt_path"], fmt="torchscript", output=str(tmp_path / "model.pt"))
    assert info["check"]["within_tolerance"]
    wave = torch.randn(3, loaded.clip_samples, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exported = torch.jit.load(str(tmp_path / "model.pt"))(wave)
        assert torch.allclose(exported, loaded.net(wave), atol=1e-4)

    loaded.module.load_state_dict(raw)  # the raw weights would score (and export) otherwise
    scored_raw = score(loaded.module, dm.test_dataloader())
    assert not np.allclose(drawn["embeddings"], scored_raw.embeddings, atol=1e-5)
    assert abs(scored_raw.loss - results["test_loss"]) > 1e-6
    assert abs(scored_raw.probs - scored.probs).max() > 1e-4
    with torch.no_grad():
        assert (exported - loaded.net(wave)).abs().max() > 1e-3


def test_resume_keeps_the_average(tiny_overrides, tmp_path):
    """2 epochs + a resume to 3 == 3 epochs straight, average and raw weights bit for bit."""
    common = [*tiny_overrides, *EMA_ON, "trainer.deterministic=true", "augment.time_flip=0.5"]

    def run(out, *extra):
        return train(compose_train([*common, *extra], out))

    run(tmp_path / "a", "trainer.max_epochs=2")
    resumed = run(tmp_path / "a", "trainer.max_epochs=3", "ckpt_path=last")
    straight = run(tmp_path / "b", "trainer.max_epochs=3")
    assert resumed["epochs"] == straight["epochs"] == 3
    for key in ("test_acc", "test_loss", "best_epoch_test_acc"):
        assert resumed[key] == straight[key], key
    a, b = (torch.load(r["ckpt_path"], weights_only=True) for r in (resumed, straight))
    for key in ("state_dict", "current_model_state", "averaging_state"):
        assert _tensors_equal(a[key], b[key]), key
