"""Export a checkpoint as a waveform-in, logits-out model: `python -m fpam_lightning.export
ckpt_path=CKPT format=onnx|torchscript [output=PATH]`.

The exported graph includes the log-mel front end, so it takes raw mono audio at the model's
sample rate, shaped (batch, clip_samples) float32, and returns (batch, num_classes) logits; the
batch size is dynamic. The file is loaded back and its logits compared with PyTorch's within
`atol + rtol * |logit|` (`inference.model_export`); a JSON file beside the model records the
sample rate, clip length, class names and the measured difference. Prints the model's path.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from .utils.cli import hydra_command, one_line_config_errors
from .utils.schema import register_schemas

register_schemas()  # the configs' defaults lists name these schemas (Hydra composes after)


@one_line_config_errors
@hydra.main(version_base="1.3", config_path="conf", config_name="export")
@hydra_command
def main(cfg: DictConfig) -> None:
    from .inference.model_export import export  # here: `--help` needs no torch

    info = export(
        str(cfg.ckpt_path),
        str(cfg.format),
        cfg.get("output"),
        int(cfg.opset),
        bool(cfg.check),
        float(cfg.atol),
        float(cfg.rtol),
    )
    print(info["path"])


if __name__ == "__main__":
    main()
