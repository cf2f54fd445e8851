"""Train and test one fold: `python -m fpam_lightning.train [GROUP=OPTION ...] [+experiment=NAME]`.

Builds the DataModule, the LightningModule and the Trainer from `conf/`, trains, scores the
held-out fold with the last epoch's weights, and writes `results.json` to the run's folder.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch import Trainer, seed_everything
from omegaconf import DictConfig, OmegaConf

from .callbacks import build_callbacks
from .ckpt_io import SafeCheckpointIO
from .config import validate
from .data.base import FoldDataModule
from .ddp import use_job_config_for_ddp_children
from .errors import USER_ERROR_EXIT_CODE, FpamError
from .loggers import build_loggers, finish_wandb, log_config, remember_wandb_run, run_name
from .models import count_flops, count_parameters
from .module import AudioClassificationModule
from .preemption import PREEMPTED_EXIT_CODE, Preemption, cluster_plugins
from .results import write_results

log = logging.getLogger("fpam_lightning")


def is_local_zero() -> bool:
    """True in the process that may download and build caches before any other rank starts."""
    return all(os.environ.get(v, "0") == "0" for v in ("LOCAL_RANK", "SLURM_LOCALID"))


def output_dir_of(cfg: DictConfig) -> Path:
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.paths.output_dir)


def build_datamodule(cfg: DictConfig) -> FoldDataModule:
    return instantiate(cfg.data, _convert_="all")


def build_module(cfg: DictConfig, dm: FoldDataModule) -> AudioClassificationModule:
    net = OmegaConf.to_container(
        OmegaConf.masked_copy(cfg, ["features", "backbone", "attention", "model"]), resolve=True
    )
    return AudioClassificationModule(
        net=net,
        num_classes=dm.num_classes,
        clip_samples=dm.clip_samples,
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        scheduler=OmegaConf.to_container(cfg.scheduler, resolve=True),
        mixup=OmegaConf.to_container(cfg.mixup, resolve=True),
        augment=OmegaConf.to_container(cfg.augment, resolve=True),
        label_smoothing=float(cfg.loss.label_smoothing),
        seed=int(cfg.seed),
        compile=bool(cfg.compile),
        channels_last=bool(cfg.channels_last),
    )


def resolve_ckpt_path(ckpt_path: str | None, output_dir: Path) -> str | None:
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        last = output_dir / "checkpoints" / "last.ckpt"
        if last.exists():
            return str(last)
        log.warning("ckpt_path=last but %s does not exist: starting from scratch", last)
        return None
    if not Path(ckpt_path).is_file():
        raise FpamError(f"ckpt_path={ckpt_path} is not a file")
    return ckpt_path


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit on the training folds, test on the held-out fold, return (and write) the results."""
    start = time.time()
    output_dir = output_dir_of(cfg)
    output_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(int(cfg.seed), workers=True, verbose=False)
    torch.set_float32_matmul_precision(str(cfg.get("matmul_precision", "highest")))

    dm = build_datamodule(cfg)
    if is_local_zero():
        dm.prepare_data()  # fails fast, before any Trainer or worker exists
    module = build_module(cfg, dm)
    params = count_parameters(module.net)
    flops = count_flops(module.net, dm.clip_samples)
    log.info(
        "model: %s + %s head (%s variant), %.2fM parameters, %.2f GFLOPs per %.2f s clip",
        cfg.backbone.name,
        cfg.attention.name,
        cfg.model.variant,
        params / 1e6,
        flops / 1e9,
        dm.clip_samples / dm.sample_rate,
    )

    use_job_config_for_ddp_children(cfg, output_dir)  # DDP ranks: this job, this folder
    loggers = build_loggers(cfg, output_dir, dm.name)
    trainer: Trainer = instantiate(
        cfg.trainer,
        logger=loggers or False,
        default_root_dir=str(output_dir),
        callbacks=build_callbacks(cfg, output_dir, bool(loggers)),
        plugins=[SafeCheckpointIO(), *cluster_plugins()],  # atomic saves, weights_only loads
    )
    wandb_id = None
    if loggers and trainer.is_global_zero:
        log_config(loggers, cfg)
        wandb_id = remember_wandb_run(loggers, output_dir)

    trainer.fit(module, datamodule=dm, ckpt_path=resolve_ckpt_path(cfg.ckpt_path, output_dir))
    preemption = next((c for c in trainer.callbacks if isinstance(c, Preemption)), None)
    if preemption is not None and preemption.preempted:
        return preempted(cfg, trainer, preemption, output_dir, dm.fold)
    # The headline: the last epoch's weights on the held-out fold, never a test-picked epoch.
    test = trainer.test(module, datamodule=dm, verbose=False)[0]
    best_on_test = None
    if dm.val_mode == "test_fold" and module.best_val_epoch >= 0:
        best_on_test = module.best_val_acc

    ckpt = output_dir / "checkpoints" / "last.ckpt"
    results = {
        "status": "completed",
        "experiment": str(cfg.experiment),
        "run_name": run_name(cfg, dm.name),
        "dataset": dm.name,
        "fold": dm.fold,
        "seed": int(cfg.seed),
        "backbone": str(cfg.backbone.name),
        "attention": str(cfg.attention.name),
        "variant": str(cfg.model.variant),
        "mixup": bool(cfg.mixup.get("enabled", False)),
        "test_acc": float(test["test/acc"]),
        "test_loss": float(test["test/loss"]),
        "best_epoch_test_acc": best_on_test,
        "best_epoch": module.best_val_epoch if best_on_test is not None else None,
        "val_mode": dm.val_mode,
        "epochs": int(trainer.current_epoch),
        "num_train": int(len(dm.indices["train"])),
        "num_test": int(len(dm.indices["test"])),
        "skipped_files": len(dm.skipped),
        "num_parameters": params,
        "flops_per_clip": flops,
        "ckpt_path": str(ckpt) if ckpt.exists() else None,
        "wandb_run_id": wandb_id,
        "output_dir": str(output_dir),
        "duration_s": round(time.time() - start, 2),
    }
    if trainer.is_global_zero:
        write_results(output_dir, results)
        log.info(
            "fold %d test accuracy (last epoch) %.4f -> %s",
            dm.fold,
            results["test_acc"],
            output_dir / "results.json",
        )
    return results


def preempted(
    cfg: DictConfig, trainer: Trainer, preemption: Preemption, output_dir: Path, fold: int
) -> dict[str, Any]:
    """A signal stopped training at an epoch end: record it, requeue, say how to resume."""
    ckpt = output_dir / "checkpoints" / "last.ckpt"
    message = (
        f"stopped by a signal after {trainer.current_epoch} epochs; {ckpt} holds them. "
        f"Resume with ckpt_path=last hydra.run.dir={output_dir}"
    )
    results = {
        "status": "preempted",
        "fold": fold,
        "epochs": int(trainer.current_epoch),
        "ckpt_path": str(ckpt),
        "message": message,
        "test_acc": None,
    }
    if trainer.is_global_zero:
        write_results(output_dir, results)
    log.warning("%s", message)
    preemption.hand_over(trainer.is_global_zero)
    return results


def _is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        validate(cfg)  # one readable line for a bad config, before any data or model is built
        results = train(cfg)
        if results["status"] == "preempted":
            finish_wandb(PREEMPTED_EXIT_CODE)  # the resumed job continues this W&B run
            print(f"preempted: {results['message']}", file=sys.stderr)
            sys.exit(PREEMPTED_EXIT_CODE)
        finish_wandb(0)
        return results["test_acc"]
    except FpamError as e:
        finish_wandb(1)
        print(f"error: {e}", file=sys.stderr)  # one line, no traceback (exit_on_user_error)
        if _is_multirun():
            write_results(
                output_dir_of(cfg), {"status": "failed", "error": str(e), "fold": cfg.data.fold}
            )
            return None
        sys.exit(USER_ERROR_EXIT_CODE)
    except BaseException as e:
        finish_wandb(1)
        if _is_multirun() and isinstance(e, Exception):
            log.exception("job failed")
            write_results(
                output_dir_of(cfg),
                {"status": "failed", "error": f"{type(e).__name__}: {e}", "fold": cfg.data.fold},
            )
            return None
        raise


if __name__ == "__main__":
    main()
