"""Every training-time trick at once (waveform and spectrogram augmentation, mixup, label
smoothing, the weight average, test-time shifts) with an inner validation split: one tiny run
end to end, recorded in results.json, and repeated exactly under its seed."""

from __future__ import annotations

from helpers import compose_train

from fpam_lightning.training.run import train

RECIPE = [
    "augment.time_shift=0.25",
    "augment.gain_db=6",
    "augment.background=0.5",
    "augment.background_snr_db=[0,10]",
    "augment.time_flip=0.5",
    "augment.freq_mask=8",
    "augment.time_mask=3",
    "mixup=on",
    "loss.label_smoothing=0.1",
    "ema.enabled=true",
    "ema.decay=0.9",
    "eval.tta_crops=2",
    "data.val=split",
    "features.normalize=per_mel",
]


def test_a_run_with_the_whole_recipe_records_how_it_was_scored(tiny_overrides, tmp_path):
    results = train(compose_train([*tiny_overrides, *RECIPE, "trainer.max_epochs=2"], tmp_path))
    assert results["status"] == "completed" and results["val_mode"] == "split"
    assert 0.0 <= results["val_acc"] <= 1.0  # the inner split's last epoch: a search's value
    assert results["scoring"] == "mean of 2 shifts" and results["ema_decay"] == 0.9
    again = train(compose_train([*tiny_overrides, *RECIPE, "trainer.max_epochs=2"], tmp_path / "b"))
    assert (again["test_loss"], again["val_acc"]) == (results["test_loss"], results["val_acc"])
