"""Test-time crops (`eval.tta_crops`): the views of a clip, the mean-probability score, and end
to end that results.json says how the held-out fold was scored and that its numbers are that
score's."""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from analysis_run import data_overrides
from helpers import compose_train, run_cli

from fpam_lightning.training.augment import crop, view_kind, views
from fpam_lightning.training.build import build_datamodule
from fpam_lightning.training.checkpoint import load_checkpoint
from fpam_lightning.training.run import train


def test_longer_clips_give_evenly_spaced_crops_from_start_to_end():
    wave = torch.arange(20.0).repeat(2, 1)
    starts = [int(v[0, 0]) for v in views(wave, 8, 3)]
    assert starts == [0, 6, 12]
    assert torch.equal(views(wave, 8, 1)[0], crop(wave, 8, train=False))  # one view: the centre
    assert view_kind(3, 20, 8) == "mean of 3 crops" and view_kind(1, 20, 8) == "centre crop"


def test_clips_of_the_model_length_give_circular_shifts():
    wave = torch.arange(12.0)[None]
    got = views(wave, 12, 4)
    assert all(torch.equal(v, wave.roll(s, -1)) for v, s in zip(got, (0, 3, 6, 9), strict=True))
    assert view_kind(4, 12, 12) == "mean of 4 shifts"
    short = views(torch.ones(1, 10), 12, 2)  # padded first, as the centre crop pads
    assert short[0].shape == (1, 12) and torch.equal(short[1], short[0].roll(6, -1))


@torch.no_grad()
def test_score_is_the_log_of_the_mean_probability_over_the_views(small_module):
    module = small_module(3)
    wave = torch.randn(2, 12000)
    probs = [module.net(v).softmax(-1) for v in views(wave, 8000, 3)]
    expected = torch.stack(probs).mean(0)
    got = module.score(wave)
    assert torch.allclose(got.exp(), expected, atol=1e-6)
    y = torch.tensor([0, 2])
    assert torch.allclose(F.cross_entropy(got, y), F.nll_loss(expected.log(), y), atol=1e-6)
    module.tta_crops = 1
    assert torch.allclose(module.score(wave), module.net(crop(wave, 8000, train=False)))


def test_a_run_scored_on_shifts_says_so_and_scores_that(tiny_overrides, tmp_path):
    cfg = compose_train([*tiny_overrides, "eval.tta_crops=4"], tmp_path / "shifts")
    results = train(cfg)
    assert results["scoring"] == "mean of 4 shifts"
    # The held-out numbers are the mean over 4 shifts of the saved weights.
    loaded = load_checkpoint(results["ckpt_path"])
    dm = build_datamodule(cfg.data)
    dm.prepare_data()
    dm.setup("test")
    probs, targets = [], []
    with torch.no_grad():
        for wave, y, *_ in dm.test_dataloader():
            probs.append(torch.stack([loaded.net(v).softmax(-1) for v in views(wave, 8000, 4)]))
            targets.append(y)
    mean, y = torch.cat(probs, 1).mean(0), torch.cat(targets)
    assert results["test_acc"] == float((mean.argmax(1) == y).float().mean())
    assert abs(results["test_loss"] - float(F.nll_loss(mean.log(), y))) < 1e-5
    # evaluate scores the checkpoint as the run did, unless told otherwise.
    for extra, scoring in (([], "mean of 4 shifts"), (["eval.tta_crops=1"], "centre crop")):
        out = tmp_path / f"evaluate{len(extra)}"
        run_cli(
            "fpam_lightning.evaluate", f"ckpt_path={results['ckpt_path']}",
            *data_overrides(tiny_overrides), "logger=none", f"hydra.run.dir={out}", *extra,
        )  # fmt: skip
        got = json.loads((out / "results.json").read_text())
        assert got["scoring"] == scoring
        if not extra:
            assert got["test_acc"] == results["test_acc"]
            assert abs(got["test_loss"] - results["test_loss"]) < 1e-5

    plain = train(compose_train(tiny_overrides, tmp_path / "plain"))
    assert plain["scoring"] == "centre crop"
    crops = compose_train(
        [*tiny_overrides, "eval.tta_crops=3", "data.cache_seconds=0.75"], tmp_path / "c"
    )
    assert train(crops)["scoring"] == "mean of 3 crops"
