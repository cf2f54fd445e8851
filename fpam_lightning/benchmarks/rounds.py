"""(b) against (c): the bare loop and the Lightning fit alternate `rounds` times.

Each keeps its best timed epoch (the first epoch of every fit is warm-up and left out), so that a
busy shared machine hurts both alike. Round 0 also counts the FLOPs of a training step, times (d)
evaluation on the networks just trained, and fits once more with the host loader (c').
"""

from __future__ import annotations

from typing import Any

from . import bare_loop, evaluation, lightning_fit
from .common import Context, best, fmt
from .data_path import DeviceClips

FITS = (("lightning", True), ("lightning_host", False))  # (phase, data.on_device)


def alternate(ctx: Context, clips: DeviceClips) -> tuple[dict[str, dict[str, Any]], int]:
    """Phases eval_lightning, bare, lightning, lightning_host and eval_bare; FLOPs per sample."""
    rates: dict[str, list[float]] = {"bare": [], "lightning": [], "lightning_host": []}
    memory: dict[str, dict[str, Any]] = dict.fromkeys(rates, {})
    phases: dict[str, dict[str, Any]] = {}
    for r in range(ctx.settings["rounds"]):
        loop = bare_loop.build(ctx, clips.waves, clips.targets, tag=f"fit{r}")
        epochs, memory["bare"] = bare_loop.measure(ctx, loop)
        rates["bare"] += epochs[1:]
        ctx.log(f"round {r}: bare loop {fmt(epochs)} samples/s (first = warm-up)")
        if r == 0:
            flops = loop.train_flops_per_sample(ctx.settings["batch_size"])
            eval_bare = evaluation.measure_bare(ctx, loop, clips.test_waves)
        del loop

        for phase, on_device in FITS if r == 0 else FITS[:1]:  # the host loader in round 0 only
            fit = lightning_fit.measure(ctx, on_device, tag=f"{phase}{r}")
            rates[phase] += fit.rates[1:]
            memory[phase] = fit.memory
            ctx.log(f"round {r}: {phase} fit {fmt(fit.rates)} samples/s")
            if phase == "lightning" and r == 0:
                phases["eval_lightning"] = evaluation.measure_lightning(
                    ctx, fit.module, fit.datamodule
                )
            del fit

    for phase, epochs in rates.items():
        phases[phase] = {"samples_per_s": best(epochs), "epochs": epochs, **memory[phase]}
    phases["eval_bare"] = eval_bare
    return phases, flops  # set in round 0: settings_from asks for at least one round
