"""The FPAM head in both readings and its ablations, alone and inside the whole network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import CONF
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from fpam_lightning.data.synthetic import synthetic_clip
from fpam_lightning.models import VARIANTS, build_classifier, count_parameters
from fpam_lightning.models.fpam import PyramidAttentionHead
from fpam_lightning.utils.errors import ConfigError
from fpam_lightning.utils.schema import register_schemas

TABLE_1 = {2: (256, 101, 32), 3: (512, 51, 16), 4: (1024, 26, 8), 5: (2048, 13, 4)}
HEADS = [
    *[("none", v) for v in VARIANTS],
    *[(a, v) for a in ("psa", "pca", "pyramid", "fpam") for v in VARIANTS],
]
# A small network for CPU tests: resnet18 with the stock stem, 32 mels, 32 aligned channels.
SMALL = (
    "backbone=resnet18",
    "backbone.paper_stem=false",
    "features.n_mels=32",
    "attention.channels=32",
)


def net_cfg(*overrides: str) -> dict:
    """The `net` part of the composed config, exactly as train.build_module passes it."""
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["logger=none", *overrides])
    return OmegaConf.to_container(
        OmegaConf.masked_copy(cfg, ["features", "backbone", "attention", "model"]), resolve=True
    )


def table_1_features(batch: int, levels) -> list[torch.Tensor]:
    return [torch.randn(batch, *TABLE_1[lv]) for lv in levels]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fpam_on_table_1_features_gives_1024x26x8_and_maps_in_0_1(variant):
    torch.manual_seed(0)
    global_channels = 2048 if VARIANTS[variant]["global_branch"] else None
    head = PyramidAttentionHead(
        [512, 1024, 2048], 50, variant=variant, global_channels=global_channels
    )
    feats = table_1_features(2, (3, 4, 5))
    out = head(feats, torch.randn(2, *TABLE_1[5]))
    assert tuple(out.fused.shape) == (2, 1024, 26, 8)  # Table 1's FPAM row
    assert tuple(out.embedding.shape) == (2, 1024)
    assert tuple(out.logits.shape) == (2, 50)
    assert [tuple(m.shape) for m in out.maps] == [(2, 1, 51, 16), (2, 1, 26, 8), (2, 1, 13, 4)]
    for m in out.maps:
        assert m.min() > 0 and m.max() < 1


def test_text_reading_res_2_3_4_fuses_on_res_3_grid():
    head = PyramidAttentionHead([256, 512, 1024], 10)
    out = head(table_1_features(2, (2, 3, 4)))
    assert tuple(out.fused.shape) == (2, 1024, 51, 16)


def test_variants_differ_only_by_named_switches():
    paper, authors = (
        PyramidAttentionHead([8, 16, 32], 3, channels=16, variant=v, global_channels=32)
        for v in ("paper", "authors")
    )
    assert paper.align[0][0].kernel_size == (1, 1) and authors.align[0][0].kernel_size == (3, 3)
    assert paper.global_branch is None and authors.global_branch is not None
    # One switch flipped back turns that part of the authors' reading into the paper's.
    mixed = PyramidAttentionHead(
        [8, 16, 32], 3, channels=16, variant="authors", global_channels=32, align_kernel=1
    )
    assert mixed.align[0][0].kernel_size == (1, 1) and mixed.global_branch is not None
    with pytest.raises(ConfigError, match="model.variant"):
        PyramidAttentionHead([8], 3, variant="mine")


def synthetic_batch(n_classes: int = 4, per_class: int = 2, seconds: float = 0.25):
    rng = np.random.default_rng(0)
    waves, ys = [], []
    for c in range(n_classes):
        for _ in range(per_class):
            waves.append(synthetic_clip(c, seconds, 16000, rng))
            ys.append(c)
    return torch.from_numpy(np.stack(waves)), torch.tensor(ys)


@pytest.mark.parametrize(("attention", "variant"), HEADS)
def test_every_head_trains_on_cpu_with_falling_loss(attention, variant):
    torch.manual_seed(0)
    net = build_classifier(net_cfg(*SMALL, f"attention={attention}", f"model.variant={variant}"), 4)
    wave, y = synthetic_batch()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss = F.cross_entropy(net(wave), y)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in net.head.parameters())  # every part is used
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < losses[0], losses


def test_explain_returns_maps_at_the_spectrogram_size_and_pooled_features():
    net = build_classifier(net_cfg(*SMALL, "attention=fpam"), 4).eval()
    out = net.explain(synthetic_batch()[0][:2])
    assert tuple(out["spectrogram"].shape) == (2, 1, 11, 32)
    assert [tuple(m.shape) for m in out["attention_maps"]] == [(2, 1, 11, 32)] * 3
    for m in out["attention_maps"]:
        assert m.min() > 0 and m.max() < 1
    assert tuple(out["embedding"].shape) == (2, 32)


def test_attention_none_has_no_attention_parameters_and_heads_share_the_backbone():
    nets = {}
    for attention in ("none", "psa", "pca", "fpam"):
        torch.manual_seed(0)
        nets[attention] = build_classifier(net_cfg(*SMALL, f"attention={attention}"), 4)
    none = nets["none"]
    assert {n.split(".")[0] for n, _ in none.head.named_parameters()} == {"classifier"}
    assert count_parameters(none.head) == 512 * 4 + 4  # GAP of Res-5, then one linear layer
    for attention in ("psa", "pca", "fpam"):
        a, b = none.backbone.state_dict(), nets[attention].backbone.state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert count_parameters(nets[attention].head) > count_parameters(none.head)
    assert not any("pca" in n for n, _ in nets["psa"].head.named_parameters())
    assert not any("sam" in n for n, _ in nets["pca"].head.named_parameters())


def test_pyramid_control_is_fpam_without_its_attention():
    """attention=pyramid: FPAM's alignment, resampling and fusion, and no attention at all."""
    torch.manual_seed(0)
    fpam = build_classifier(net_cfg(*SMALL, "attention=fpam"), 4)
    pyramid = build_classifier(net_cfg(*SMALL, "attention=pyramid"), 4)
    names = {n.split(".")[0] for n, _ in pyramid.head.named_parameters()}
    assert names == {"align", "classifier"}
    fpam_params = {n: p.shape for n, p in fpam.head.named_parameters()}
    for n, p in pyramid.head.named_parameters():
        assert fpam_params[n] == p.shape  # the same pyramid, parameter for parameter
    wave = synthetic_batch()[0][:2]
    pyramid.eval()
    with torch.no_grad():
        feats = pyramid.backbone(pyramid.frontend(wave))
        xs = [a(feats[i]) for a, i in zip(pyramid.head.align, pyramid._head_idx, strict=True)]
        size = tuple(xs[1].shape[-2:])
        expected = torch.stack([pyramid.head._resample(x, size) for x in xs]).mean(0)
        fused = pyramid.classify(pyramid.frontend(wave)).fused
    assert torch.allclose(fused, expected, atol=1e-6)


def test_authors_baseline_squashes_its_logits_and_the_paper_baseline_does_not():
    torch.manual_seed(0)
    wave = synthetic_batch()[0][:4]
    authors = build_classifier(net_cfg(*SMALL, "attention=none", "model.variant=authors"), 4)
    logits = authors.eval()(wave)
    assert logits.min() >= 1e-7 and logits.max() <= 1 - 1e-7  # sigmoid + clamp, as they train
    paper = build_classifier(
        net_cfg(
            *SMALL, "attention=none", "model.variant=authors", "attention.baseline_logits=plain"
        ),
        4,
    )
    paper.load_state_dict(authors.state_dict())
    plain = paper.eval()(wave)
    assert torch.allclose(torch.sigmoid(plain).clamp(1e-7, 1 - 1e-7), logits, atol=1e-6)


def test_tutorial_cnn_takes_the_tutorial_head_and_rejects_fpam():
    cfg = net_cfg(
        "features=tutorial",
        "backbone=tutorial_cnn",
        "attention=none",
        "model.classifier.hidden=128",
        "model.classifier.dropout=0.4",
        "model.classifier.hidden_dropout=0.2",
    )
    net = build_classifier(cfg, 10).eval()
    assert tuple(net(torch.randn(2, 22050)).shape) == (2, 10)
    dense = [type(m).__name__ for m in net.head.classifier.net]
    assert dense == ["Dropout", "Linear", "PReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert net.head.classifier.net[1].in_features == 512
    for attention in ("fpam", "psa", "pca"):
        with pytest.raises(ConfigError, match="tutorial_cnn"):
            build_classifier(net_cfg("backbone=tutorial_cnn", f"attention={attention}"), 10)
