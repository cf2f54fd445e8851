"""Every head through the real entry point (composed config, synthetic WAVs, Lightning)."""

from __future__ import annotations

import json

import torch
from helpers import compose_train
from omegaconf import OmegaConf

from fpam_lightning.models.classifier import build_frontend
from fpam_lightning.models.frontend import LogMel
from fpam_lightning.training.build import build_datamodule
from fpam_lightning.training.run import train

RUNS = [
    ["attention=none"],
    ["attention=psa"],
    ["attention=pca"],
    ["attention=fpam"],
    ["attention=fpam", "model.variant=authors"],
]


def test_train_completes_for_every_ablation_and_both_variants(tiny_overrides, tmp_path):
    """`python -m fpam_lightning.train data=synthetic attention=X` for each X, in-process."""
    for i, extra in enumerate(RUNS):
        out = tmp_path / str(i)
        results = train(compose_train([*tiny_overrides, *extra], out))
        assert results["status"] == "completed", extra
        assert results["attention"] == extra[0].split("=")[1]
        assert results["variant"] == ("authors" if len(extra) > 1 else "paper")
        assert results["flops_per_clip"] > 0 and results["num_parameters"] > 0
        assert 0.0 <= results["test_acc"] <= 1.0
        assert json.loads((out / "results.json").read_text())["attention"] == results["attention"]


def test_per_mel_statistics_come_from_the_training_folds_only(tiny_overrides, tmp_path):
    cfg = compose_train(
        [*tiny_overrides, "features=authors", "model.variant=authors", "data.fold=2"], tmp_path
    )
    results = train(cfg)
    state = torch.load(results["ckpt_path"], map_location="cpu", weights_only=True)["state_dict"]

    dm = build_datamodule(cfg.data)
    dm.setup("fit")
    features = OmegaConf.to_container(cfg.features, resolve=True)

    def stats(split: str) -> LogMel:
        fe = build_frontend(features)
        fe.fit_statistics(dm.clips(split))
        return fe

    train_only, held_out = stats("train"), stats("test")
    assert int(state["net.frontend.stats_frames"]) == len(
        dm.indices["train"]
    ) * train_only.num_frames(dm.clip_samples)
    torch.testing.assert_close(state["net.frontend.mean"], train_only.mean, atol=1e-4, rtol=0)
    torch.testing.assert_close(state["net.frontend.std"], train_only.std, atol=1e-4, rtol=1e-4)
    # The held-out fold's clips would have moved them: they were not used.
    assert (held_out.mean - train_only.mean).abs().max() > 1e-2
