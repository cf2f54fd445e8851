"""Hydra's submitit launchers, made safe for fold sweeps (hydra/launcher=slurm, slurm_cpu).

What the plugin's own launcher does not: a request that no node of the partition can hold fails
in one line before anything is submitted (it would pend forever); a job that failed in Python
exits non-zero, so SLURM's accounting says FAILED; a job that SLURM ended from outside (scancel,
out of memory, time limit, node failure) is recorded as a lost job in its `results.json` instead
of crashing the sweep, so the summary is still written and lists it, and the sweep exits 1; an
interrupted sweep cancels the jobs it submitted. Each job's torch threads follow
SLURM_CPUS_PER_TASK.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf, open_dict

from .cli import USER_ERROR_EXIT_CODE, print_error
from .provenance import provenance
from .results import write_results

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """Raised at the end of a job that recorded a failure, so that its process exits non-zero."""


def follow_slurm_cpus() -> None:
    """One torch thread per CPU that SLURM gave this task (it does not pin them itself)."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if cpus and cpus.isdigit():
        import torch

        torch.set_num_threads(int(cpus))


def job_status(output_dir: str | Path) -> dict[str, Any] | None:
    path = Path(output_dir) / "results.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- what the partition can hold ------------------------------------------------------------------
def partition_nodes(partition: str | None) -> tuple[str, list[tuple[int, int, int]]] | None:
    """(partition name, [(CPUs, memory MB, GPUs) per kind of node]) from sinfo; None without it."""
    if shutil.which("sinfo") is None:
        return None
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%P|%c|%m|%G"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    nodes: dict[str, list[tuple[int, int, int]]] = {}
    default = None
    for line in out.splitlines():
        try:
            name, cpus, mem, gres = line.strip().split("|")
        except ValueError:
            continue
        if name.endswith("*"):
            name = name[:-1]
            default = name
        gpus = sum(int(n) for n in re.findall(r"gpu(?::[^:,(]+)?:(\d+)", gres))
        nodes.setdefault(name, []).append((int(cpus.rstrip("+")), int(mem.rstrip("+")), gpus))
    name = partition or default
    if name not in nodes:
        return None  # sbatch names an unknown partition itself
    return name, nodes[name]


def check_request_fits(params: dict[str, Any]) -> None:
    """Exit 2 with one line when no node of the partition can ever run one job of the sweep."""
    found = partition_nodes(params.get("partition"))
    if found is None:
        return
    name, nodes = found
    tasks = int(params.get("tasks_per_node") or 1)
    cpus = tasks * int(params.get("cpus_per_task") or 1)
    mem_mb = int(float(params.get("mem_gb") or 0) * 1024)
    gpus = int(params.get("gpus_per_node") or 0)
    if any(cpus <= c and mem_mb <= m and gpus <= g for c, m, g in nodes):
        return
    most = (max(c for c, _, _ in nodes), max(m for _, m, _ in nodes), max(g for *_, g in nodes))
    print_error(
        f"hydra/launcher asks each node for {cpus} CPU(s) ({tasks} task(s) x cpus_per_task="
        f"{cpus // tasks}), {mem_mb / 1024:g} GB and {gpus} GPU(s), but the largest node of "
        f"SLURM partition {name} has {most[0]} CPU(s), {most[1] / 1024:.1f} GB and {most[2]} "
        "GPU(s) (sinfo): lower hydra.launcher.cpus_per_task, mem_gb or gpus_per_node, or "
        "choose another hydra.launcher.partition"
    )
    raise SystemExit(USER_ERROR_EXIT_CODE)


# --- the launchers ---------------------------------------------------------------------------
class SafeSubmititLauncher(plugin.BaseSubmititLauncher):
    """The submitit launcher with the behaviour above; hydra_plugins/fpam_launchers names the
    SLURM and local variants (Hydra loads launchers only from that namespace)."""

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:  # runs inside the job
        follow_slurm_cpus()
        ret = super().__call__(*args, **kwargs)
        if ret.status == JobStatus.FAILED:
            _ = ret.return_value  # Hydra's accessor re-raises the job's error (sacct: FAILED)
        results = job_status(ret.hydra_cfg.hydra.runtime.output_dir) if ret.hydra_cfg else None
        if results and results.get("status") == "failed":
            raise JobFailed(str(results.get("error", "the job failed")))  # sacct: FAILED 1:0
        return ret

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None and job_overrides
        if self._EXECUTOR == "slurm":
            check_request_fits(self.params)
        # As the plugin's launch, up to the submission.
        specific_init_keys = {"max_num_timeout"}
        init_params = {"folder": self.params["submitit_folder"]}
        init_params.update(
            {f"{self._EXECUTOR}_{k}": v for k, v in self.params.items() if k in specific_init_keys}
        )
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{
                k if k in base else f"{self._EXECUTOR}_{k}": v
                for k, v in self.params.items()
                if k not in specific_init_keys | {"submitit_folder"}
            }
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir}")
        job_params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_params.append(
                (
                    list(overrides),
                    "hydra.sweep.dir",
                    idx,
                    f"job_id_for_{idx}",
                    Singleton.get_state(),
                )
            )
        jobs = executor.map_array(self, *zip(*job_params, strict=True))
        try:
            return [
                self._outcome(job, list(overrides), idx)
                for idx, (job, overrides) in enumerate(
                    zip(jobs, job_overrides, strict=True), start=initial_job_idx
                )
            ]
        except BaseException:  # Ctrl-C, or the watcher itself failed: leave nothing running
            for job in jobs:
                if not job.done():
                    job.cancel(check=False)
            raise

    def _outcome(self, job: Any, overrides: list[str], idx: int) -> JobReturn:
        """The job's return, or a completed empty return once its failure is on record."""
        import submitit

        try:
            return job.results()[0]
        except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError) as e:
            cfg = self._job_config(overrides, idx)
            output_dir = Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)
            recorded = job_status(output_dir) or {}
            if recorded.get("status") not in ("failed", "completed"):
                state = job.state
                write_results(
                    output_dir,
                    {
                        "status": "failed",
                        "lost": state,
                        "error": f"lost: SLURM job {job.job_id} ended {state} before it "
                        f"finished ({str(e).splitlines()[0][:200]})",
                        "fold": OmegaConf.select(cfg, "data.fold"),
                        "seed": OmegaConf.select(cfg, "seed"),
                        "provenance": provenance(),  # of the launcher: the job left none
                    },
                )
            log.error("job #%d (%s) did not finish: %s", idx, job.job_id, job.state)
            return JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=None)

    def _job_config(self, overrides: list[str], idx: int) -> Any:
        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg.hydra.job):
            cfg.hydra.job.num = idx
        return cfg
