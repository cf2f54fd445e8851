"""One fold, end to end: fit on the training folds, test the held-out fold, write results.json.

The held-out accuracy is always the last epoch's weights (their moving average with
`ema.enabled`); the best epoch on the test fold (the authors' practice) is recorded beside it,
labelled, and never picks weights. With data.val=split the last epoch's accuracy on the inner
validation split is `val_acc`: what a hyperparameter search optimises (train.py).
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer, seed_everything
from omegaconf import DictConfig

from ..models import component_name, count_flops, count_parameters
from ..utils.cli import output_dir_of
from ..utils.errors import ConfigError
from ..utils.provenance import provenance
from ..utils.results import write_results
from .augment import view_kind
from .build import build_datamodule, build_module, build_trainer, module_hparams
from .callbacks import build_callbacks
from .checkpoint import check_resume
from .ddp import use_job_config_for_ddp_children
from .ema import EMA, build_ema
from .loggers import build_loggers, log_config, remember_wandb_run, run_name
from .preemption import Preemption
from .rerun import plan_rerun
from .search import is_search

log = logging.getLogger("fpam_lightning")


def is_local_zero() -> bool:
    """True in the process that may download and build caches before any other rank starts."""
    return all(os.environ.get(v, "0") == "0" for v in ("LOCAL_RANK", "SLURM_LOCALID"))


def resolve_ckpt_path(ckpt_path: str | None, output_dir: Path) -> str | None:
    from ..utils.errors import FpamError

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


def resume_path(ckpt_path: str | None, output_dir: Path, module: Any) -> str | None:
    """The checkpoint to resume from, checked against this run's model: one line, not
    Lightning's load_state_dict traceback, when it holds another architecture."""
    path = resolve_ckpt_path(ckpt_path, output_dir)
    if path is not None:
        check_resume(path, module)
    return path


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit on the training folds, test on the held-out fold, return (and write) the results.

    Each part is built from its own node of `cfg`; what the run is and how it was scored are
    read back from the parts (the module's hyperparameters, the data module, the average)."""
    start = time.time()
    output_dir = output_dir_of(cfg)
    output_dir.mkdir(parents=True, exist_ok=True)
    done = plan_rerun(cfg, output_dir, writer=is_local_zero())  # a re-run sweep or a requeue
    if done is not None:
        return done
    experiment, hparams = str(cfg.experiment), module_hparams(cfg)
    seed_everything(hparams["seed"], workers=True, verbose=False)
    torch.set_float32_matmul_precision(str(cfg.get("matmul_precision", "highest")))

    dm = build_datamodule(cfg.data)
    if is_local_zero():
        dm.prepare_data()  # fails fast, before any Trainer or worker exists
    module = build_module(hparams, dm)
    size = model_size(module, dm)

    use_job_config_for_ddp_children(cfg, output_dir)  # DDP ranks: this job, this folder
    name = run_name(experiment, dm.name, dm.fold, module.hparams)
    loggers = build_loggers(cfg.logger, output_dir, name, experiment)
    ema = build_ema(cfg.ema)
    nan_at_step = cfg.debug.nan_at_step
    callbacks = build_callbacks(cfg.callbacks, output_dir, bool(loggers), ema, nan_at_step)
    trainer = build_trainer(cfg.trainer, output_dir, callbacks, loggers)
    wandb_id = None
    if loggers and trainer.is_global_zero:
        log_config(loggers, cfg)
        wandb_id = remember_wandb_run(loggers, output_dir)

    trainer.fit(module, datamodule=dm, ckpt_path=resume_path(cfg.ckpt_path, output_dir, module))
    preemption = next((c for c in trainer.callbacks if isinstance(c, Preemption)), None)
    if preemption is not None and preemption.preempted:
        return preempted(trainer, preemption, output_dir, dm.fold)
    val_acc = inner_val_acc(trainer, dm)  # before testing, which resets the metrics
    results = {
        "status": "completed",
        **run_identity(experiment, name, module, dm),
        **held_out_scores(trainer, module, dm),
        **best_on_test(module, dm),
        "val_mode": dm.val_mode,
        "val_acc": val_acc,
        **scoring(ema, dm, module),
        "precision": str(trainer.precision),
        "channels_last": bool(module.hparams["channels_last"]),
        "epochs": int(trainer.current_epoch),
        "num_train": int(len(dm.indices["train"])),
        "num_test": int(len(dm.indices["test"])),
        "skipped_files": len(dm.skipped),
        "skipped": list(dm.skipped),
        **size,
        "ckpt_path": _last_ckpt(output_dir),
        "wandb_run_id": wandb_id,
        "output_dir": str(output_dir),
        "duration_s": round(time.time() - start, 2),
        "provenance": provenance(trainer.strategy.root_device, dm.fingerprint()),
    }
    if trainer.is_global_zero:
        write_results(output_dir, results)
        scored = "test" if results["test_acc"] is not None else "inner-split"
        log.info(
            "fold %d %s accuracy (last epoch) %.4f -> %s",
            dm.fold,
            scored,
            results["test_acc"] if scored == "test" else (val_acc or 0.0),
            output_dir / "results.json",
        )
    return results


def held_out_scores(trainer: Trainer, module: Any, dm: Any) -> dict[str, Any]:
    """The held-out fold's last-epoch accuracy and loss. A search trial never reads that fold:
    its value is the inner split's, and no held-out number exists to be looked at or picked."""
    if is_search():
        return {"test_acc": None, "test_loss": None, "held_out": "not read (search trial)"}
    test = trainer.test(module, datamodule=dm, verbose=False)[0]
    check_scores(test, dm)
    return {"test_acc": float(test["test/acc"]), "test_loss": float(test["test/loss"])}


def model_size(module: Any, dm: Any) -> dict[str, int]:
    """Parameters and FLOPs per clip, logged and recorded in results.json."""
    size = {
        "num_parameters": count_parameters(module.net),
        "flops_per_clip": first_forward_flops(module, dm),
    }
    net = module.hparams["net"]
    log.info(
        "model: %s + %s head (%s variant), %.2fM parameters, %.2f GFLOPs per %.2f s clip",
        component_name(net["backbone"]),
        component_name(net["attention"]),
        net["model"]["variant"],
        size["num_parameters"] / 1e6,
        size["flops_per_clip"] / 1e9,
        dm.clip_samples / dm.sample_rate,
    )
    return size


def first_forward_flops(module: Any, dm: Any) -> int:
    """FLOPs per clip, from the first forward pass: a front end that cannot feed the backbone
    (too few mels or frames) fails here, in one line, before any training."""
    try:
        return count_flops(module.net, dm.clip_samples)
    except (RuntimeError, ValueError) as e:
        net = module.hparams["net"]
        f = net["features"]
        raise ConfigError(
            f"invalid configuration: the network cannot take a {dm.clip_samples}-sample clip "
            f"with features.n_mels={f.get('n_mels')}, n_fft={f.get('n_fft')}, "
            f"hop_length={f.get('hop_length')} (data.clip_seconds={dm.clip_seconds}, "
            f"backbone={component_name(net['backbone'])}): "
            f"{str(e).strip().splitlines()[0][:200]}"
        ) from e


def check_scores(test: dict[str, Any], dm: Any) -> None:
    """Never record a held-out score that a NaN has touched as a completed run."""
    loss = float(test["test/loss"])
    if not math.isfinite(loss):
        from .numerics import NumericalError

        raise NumericalError(
            f"the held-out loss of fold {dm.fold} is {loss}: a clip or the weights hold NaN/Inf "
            "values, so its accuracy is not recorded; rerun with trainer.detect_anomaly=true"
        )


def run_identity(experiment: str, name: str, module: Any, dm: Any) -> dict[str, Any]:
    """What a summary groups and pairs runs by: the configuration, data set, fold and seed, as
    built (the module's hyperparameters and the data module)."""
    hp, net = module.hparams, module.hparams["net"]
    return {
        "experiment": experiment,
        "run_name": name,
        "dataset": dm.name,
        "fold": dm.fold,
        "seed": int(hp["seed"]),
        "backbone": component_name(net["backbone"]),
        "attention": component_name(net["attention"]),
        "variant": str(net["model"]["variant"]),
        "mixup": module.mixup is not None,
    }


def inner_val_acc(trainer: Trainer, dm: Any) -> float | None:
    """The last epoch's accuracy on the inner split (data.val=split), else None: with
    data.val=test_fold the validation accuracy is the test fold's, never an objective."""
    acc = trainer.callback_metrics.get("val/acc")
    return float(acc) if dm.val_mode == "split" and acc is not None else None


def scoring(ema: EMA | None, dm: Any, module: Any) -> dict[str, Any]:
    """Which weights and which views of each clip the held-out scores come from."""
    return {
        "ema_decay": ema.decay if ema is not None else None,
        "scoring": view_kind(module.tta_crops, dm.cache_samples, dm.clip_samples),
    }


def best_on_test(module: Any, dm: Any) -> dict[str, Any]:
    """The epoch the held-out fold would pick (optimistic): shown beside the headline only."""
    if dm.val_mode == "test_fold" and module.best_val_epoch >= 0:
        return {"best_epoch_test_acc": module.best_val_acc, "best_epoch": module.best_val_epoch}
    return {"best_epoch_test_acc": None, "best_epoch": None}


def _last_ckpt(output_dir: Path) -> str | None:
    ckpt = output_dir / "checkpoints" / "last.ckpt"
    return str(ckpt) if ckpt.exists() else None


def preempted(
    trainer: Trainer, preemption: Preemption, output_dir: Path, fold: int
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
        "provenance": provenance(trainer.strategy.root_device),
    }
    if trainer.is_global_zero:
        write_results(output_dir, results)
    log.warning("%s", message)
    preemption.hand_over(trainer.is_global_zero)
    return results
