"""The log-mel front ends of each recipe, built from their real config files."""

from __future__ import annotations

import pytest
import torch
from helpers import CONF
from omegaconf import OmegaConf

from fpam_lightning.models.classifier import build_frontend
from fpam_lightning.models.frontend import LogMel
from fpam_lightning.utils.errors import ConfigError


def frontend(name: str) -> LogMel:
    """The option's front end as training builds it (its schema reference set aside)."""
    node = OmegaConf.to_container(OmegaConf.load(CONF / "features" / f"{name}.yaml"))
    node.pop("defaults", None)
    return build_frontend(node)


@pytest.mark.parametrize(
    ("name", "seconds", "shape"),
    [
        ("paper", 5.0, (1, 201, 64)),  # method.md: 80 000 samples -> 1 x 201 x 64
        ("authors", 5.0, (1, 201, 64)),
        ("tutorial", 4.0, (1, 173, 128)),  # 88 200 samples at 22.05 kHz, hop 512
        ("efficientat", 5.0, (1, 501, 128)),  # method.md section 4: 160 000 samples at 32 kHz
    ],
)
def test_recipe_frontends_give_their_shapes(name, seconds, shape):
    fe = frontend(name)
    n = int(seconds * fe.sample_rate)
    spec = fe(torch.randn(2, n) * 0.1)
    assert tuple(spec.shape) == (2, *shape)
    assert fe.num_frames(n) == shape[1]
    assert torch.isfinite(spec).all()


def test_authors_db_is_power_to_db_of_the_magnitude_mel_with_an_80_db_floor():
    fe = frontend("authors")
    wave = torch.randn(1, 16000) * 0.1
    wave[:, 8000:] = 0.0  # silence in the second half reaches the floor
    mel = fe.mel(wave)  # power=1: the magnitude
    want = 10.0 * torch.log10(mel.clamp_min(1e-10))
    want = torch.maximum(want, want.amax() - 80.0)
    torch.testing.assert_close(fe.unnormalized(wave)[:, 0].transpose(-1, -2), want)
    assert fe.unnormalized(wave).amin() == pytest.approx(float(want.amax()) - 80.0)


def test_per_mel_statistics_standardise_and_are_buffers():
    fe = frontend("authors")
    assert fe.needs_statistics
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(4, 16000, generator=gen) * s for s in (0.05, 0.2, 0.5)]
    frames = fe.fit_statistics(batches)
    assert frames == 12 * fe.num_frames(16000)
    assert not fe.needs_statistics
    out = torch.cat([fe(b) for b in batches]).reshape(-1, fe.n_mels)
    torch.testing.assert_close(out.mean(0), torch.zeros(fe.n_mels), atol=1e-3, rtol=0)
    torch.testing.assert_close(out.std(0, unbiased=False), torch.ones(fe.n_mels), atol=1e-3, rtol=0)
    state = fe.state_dict()
    assert {"mean", "std", "stats_frames"} <= set(state)
    again = frontend("authors")
    again.load_state_dict(state)
    assert not again.needs_statistics
    torch.testing.assert_close(again(batches[0]), fe(batches[0]))


def test_paper_frontend_needs_no_statistics_and_bad_scale_is_a_config_error():
    assert not frontend("paper").needs_statistics
    with pytest.raises(ConfigError, match="features.scale"):
        LogMel(scale="cubic")
