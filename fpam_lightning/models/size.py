"""Parameter and FLOP counts of each recipe's network, as a markdown table.

`python -m fpam_lightning.models.size` composes conf/train.yaml for every row of RECIPES
(exactly as the training entry point does), builds the network on the CPU and counts one clip.
"""

from __future__ import annotations

import sys

import torch
from omegaconf import OmegaConf

from ..utils.schema import compose
from .classifier import build_classifier, count_flops, count_parameters

# (label, overrides, classes, clip seconds)
RECIPES: list[tuple[str, list[str], int, float]] = [
    ("resnet50 + fpam, variant=paper", ["attention=fpam", "model.variant=paper"], 50, 5.0),
    (
        "resnet50 + fpam, variant=authors",
        ["attention=fpam", "model.variant=authors", "features=authors"],
        50,
        5.0,
    ),
    ("resnet50, attention=none (baseline)", ["attention=none"], 50, 5.0),
    ("resnet50 + psa, variant=paper", ["attention=psa"], 50, 5.0),
    ("resnet50 + pca, variant=paper", ["attention=pca"], 50, 5.0),
    ("resnet18 + fpam, variant=paper", ["backbone=resnet18", "attention=fpam"], 50, 5.0),
    (
        "tutorial_cnn (tutorial head), features=tutorial",
        [
            "backbone=tutorial_cnn",
            "attention=none",
            "features=tutorial",
            "model.classifier.hidden=128",
            "model.classifier.dropout=0.4",
            "model.classifier.hidden_dropout=0.2",
        ],
        10,
        4.0,
    ),
]


def measure(overrides: list[str], num_classes: int, seconds: float) -> dict:
    cfg = compose("train", ["logger=none", *overrides])
    net_cfg = OmegaConf.to_container(
        OmegaConf.masked_copy(cfg, ["features", "backbone", "attention", "model"]), resolve=True
    )
    net = build_classifier(net_cfg, num_classes)
    samples = int(round(seconds * cfg.features.sample_rate))
    spec = net.frontend(torch.zeros(1, samples))
    return {
        "params": count_parameters(net),
        "backbone": count_parameters(net.backbone),
        "head": count_parameters(net.head),
        "flops": count_flops(net, samples),
        "input": "x".join(str(d) for d in spec.shape[1:]),
    }


def main(argv: list[str] | None = None) -> None:
    rows = [
        "| recipe | input (C x T x F) | parameters | backbone | head | GFLOPs / clip |",
        "|---|---|---|---|---|---|",
    ]
    for label, overrides, classes, seconds in RECIPES:
        m = measure(overrides, classes, seconds)
        rows.append(
            f"| {label} ({classes} classes, {seconds:g} s) | {m['input']} | "
            f"{m['params'] / 1e6:.2f}M | {m['backbone'] / 1e6:.2f}M | "
            f"{m['head'] / 1e6:.2f}M | {m['flops'] / 1e9:.2f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
