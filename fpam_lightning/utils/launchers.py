"""Hydra's submitit launchers, made safe for fold sweeps (hydra/launcher=slurm, slurm_cpu).

What the plugin's own launcher does not:
- every refusal is one line (exit 2) before anything is submitted, where SLURM can tell (sinfo,
  scontrol): a missing partition, a request no node can hold, a GPU request on a partition
  without GPUs, a time limit or node count above the partition's, a `timeout_min` too short for
  submitit's warning signal; and a job that pends for a reason that cannot clear
  (PartitionTimeLimit, ...) ends the sweep in one line, its jobs cancelled, instead of waiting;
- a re-run submits only the jobs that are not done (completed with the same config), and a job
  holds its run folder (utils.reruns): one that finds an older job still running there waits;
- a job that failed in Python exits non-zero, so SLURM's accounting says FAILED; one that SLURM
  ended from outside (scancel, out of memory, time limit, node failure) is recorded as lost in
  its `results.json`, so the summary lists it and the sweep exits 1;
- Ctrl-C cancels the jobs it submitted; SIGHUP or SIGTERM (a lost login shell) leave them
  running and print the command that collects them (the re-run waits for them);
- each job's torch threads follow SLURM_CPUS_PER_TASK.
`additional_parameters` go to sbatch unchecked: the pending watch catches what they break.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from signal import SIG_DFL
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf, open_dict

from .cli import USER_ERROR_EXIT_CODE, print_error
from .provenance import provenance
from .reruns import completed_with, fingerprint, hold, holder, rerun_command
from .results import read_results, write_results

log = logging.getLogger(__name__)

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
# squeue reasons that no waiting clears: the job's own request exceeds a fixed limit.
NEVER_CLEARS = re.compile(
    r"Partition(TimeLimit|NodeLimit|Config)|BadConstraints|InvalidQOS|InvalidAccount"
    r"|DependencyNeverSatisfied|(QOS|Assoc)(Max\w*PerJob|Min)\w*"
)
# What to change for such a reason: the first setting whose key the reason contains.
SETTING_FOR_REASON = (
    ("Time", "timeout_min"),
    ("WallDuration", "timeout_min"),
    ("Node", "nodes"),
    ("Cpu", "cpus_per_task"),
    ("Mem", "mem_gb"),
    ("GRES", "gpus_per_node"),
    ("QOS", "qos"),
    ("Account", "additional_parameters.account"),
    ("Constraint", "constraint"),
)


class JobFailed(RuntimeError):
    """Raised at the end of a job that recorded a failure, so that its process exits non-zero."""


class LauncherSignal(Exception):
    """SIGHUP or SIGTERM reached the launcher while it watched its jobs."""


def follow_slurm_cpus() -> None:
    """One torch thread per CPU that SLURM gave this task (it does not pin them itself)."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if cpus and cpus.isdigit():
        import torch

        torch.set_num_threads(int(cpus))


def job_status(output_dir: str | Path) -> dict[str, Any] | None:
    try:
        return read_results(output_dir)
    except (OSError, ValueError):
        return None


def refuse(message: str) -> NoReturn:
    """A launcher refusal: one line, exit 2, never a traceback."""
    print_error(message)
    raise SystemExit(USER_ERROR_EXIT_CODE)


# --- what the cluster can run -----------------------------------------------------------------
def _slurm(*command: str) -> str | None:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def partitions() -> dict[str, dict[str, str]] | None:
    """Each partition's settings (`scontrol show partition`, hidden ones too); None without it."""
    out = _slurm("scontrol", "--all", "--oneliner", "show", "partition")
    if out is None:
        return None
    found = (dict(w.split("=", 1) for w in line.split() if "=" in w) for line in out.splitlines())
    return {p["PartitionName"]: p for p in found if "PartitionName" in p}


def partition_nodes(partition: str) -> list[tuple[int, int, int]]:
    """[(CPUs, memory MB, GPUs) per kind of node] of `partition`, from sinfo."""
    out = _slurm("sinfo", "-h", "-p", partition, "-o", "%c|%m|%G") or ""
    nodes = []
    for line in out.splitlines():
        try:
            cpus, mem, gres = line.strip().split("|")
        except ValueError:
            continue
        gpus = sum(int(n) for n in re.findall(r"gpu(?::[^:,(]+)?:(\d+)", gres))
        nodes.append((int(cpus.rstrip("+")), int(mem.rstrip("+")), gpus))
    return nodes


def minutes(limit: str) -> float | None:
    """SLURM's `[D-]HH:MM:SS` in minutes; None for UNLIMITED."""
    if not re.fullmatch(r"(\d+-)?\d+(:\d+){0,2}", limit):
        return None
    days, _, rest = limit.rpartition("-")
    h, m, s = ([0, 0] + [int(p) for p in rest.split(":")])[-3:]
    return int(days or 0) * 1440 + h * 60 + m + s / 60


def check_request(params: dict[str, Any]) -> None:
    """Exit 2 with one line listing every reason why the sweep's jobs could never run here."""
    if shutil.which("sbatch") is None:
        refuse(
            "hydra/launcher=slurm needs SLURM (sbatch is not on PATH): run the sweep on the "
            "cluster's login node, or choose hydra/launcher=local_parallel"
        )
    problems = []
    timeout = float(params.get("timeout_min") or 0)
    delay = int(params.get("signal_delay_s") or 0)
    if timeout * 60 < 2 * delay:
        problems.append(
            f"hydra.launcher.timeout_min={timeout:g} leaves {max(0, timeout * 60 - delay):g} s "
            f"before SLURM's warning signal, which submitit asks for signal_delay_s={delay} s "
            "before the time limit (a job would be requeued before it trains): set timeout_min "
            f"to at least {math.ceil(2 * delay / 60)} (twice signal_delay_s), or lower "
            "hydra.launcher.signal_delay_s (it must stay above one epoch's length)"
        )
    found = partitions()
    if found:
        default = next((n for n, p in found.items() if p.get("Default") == "YES"), None)
        name = params.get("partition") or default
        if name not in found:
            what = f"SLURM partition {name}" if name else "a default SLURM partition"
            refuse(
                f"this cluster has no {what} (scontrol show partition: {', '.join(found)}): "
                "set hydra.launcher.partition to one of them"
            )
        problems += _beyond_partition(name, found[name], params, timeout)
    if problems:
        refuse("; ".join(problems))


def _beyond_partition(
    name: str, part: dict[str, str], params: dict[str, Any], timeout: float
) -> list[str]:
    problems = []
    most = minutes(part.get("MaxTime", ""))
    if most is not None and timeout > most:
        problems.append(
            f"hydra.launcher.timeout_min={timeout:g} is above SLURM partition {name}'s MaxTime "
            f"({part['MaxTime']}): set timeout_min={math.floor(most)} or less, or choose another "
            "hydra.launcher.partition"
        )
    nodes = int(params.get("nodes") or 1)
    limits = [int(v) for v in (part.get("MaxNodes"), part.get("TotalNodes")) if (v or "").isdigit()]
    if limits and nodes > min(limits):
        problems.append(
            f"hydra.launcher.nodes={nodes} is more than SLURM partition {name} has or allows "
            f"({min(limits)})"
        )
    kinds = partition_nodes(name)
    if not kinds:
        return problems
    tasks = int(params.get("tasks_per_node") or 1)
    cpus = tasks * int(params.get("cpus_per_task") or 1)
    mem_mb = int(float(params.get("mem_gb") or 0) * 1024)
    gpus = int(params.get("gpus_per_node") or 0)
    if gpus and not any(g for *_, g in kinds):
        problems.append(
            f"SLURM partition {name} has no GPUs (sinfo) but hydra.launcher.gpus_per_node={gpus}:"
            " choose a partition with GPUs, or run on CPUs with hydra/launcher=slurm_cpu"
        )
    elif not any(cpus <= c and mem_mb <= m and gpus <= g for c, m, g in kinds):
        most_ = (max(c for c, *_ in kinds), max(m for _, m, _ in kinds), max(g for *_, g in kinds))
        problems.append(
            f"hydra/launcher asks each node for {cpus} CPU(s) ({tasks} task(s) x cpus_per_task="
            f"{cpus // tasks}), {mem_mb / 1024:g} GB and {gpus} GPU(s), but the largest node of "
            f"SLURM partition {name} has {most_[0]} CPU(s), {most_[1] / 1024:.1f} GB and "
            f"{most_[2]} GPU(s) (sinfo): lower hydra.launcher.cpus_per_task, mem_gb or "
            "gpus_per_node, or choose another hydra.launcher.partition"
        )
    return problems


def never_starting(job_ids: set[str]) -> tuple[str, str] | None:
    """(SLURM job, reason) of one of `job_ids`' tasks that pends for a reason that never clears."""
    out = _slurm("squeue", "-h", "-r", "-t", "PD", "-o", "%i|%r", "-j", ",".join(job_ids)) or ""
    for line in out.splitlines():
        job, _, reason = line.strip().partition("|")
        if NEVER_CLEARS.fullmatch(reason):
            return job, reason
    return None


# --- the launchers ---------------------------------------------------------------------------
class SafeSubmititLauncher(plugin.BaseSubmititLauncher):
    """The submitit launcher with the behaviour above; hydra_plugins/fpam_launchers names the
    SLURM and local variants (Hydra loads launchers only from that namespace)."""

    _folders: dict[int, Path]  # each job's run folder, set before submission

    def __call__(  # runs inside the job
        self,
        sweep_overrides: list[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: dict[type, Singleton],
    ) -> JobReturn:
        import submitit

        follow_slurm_cpus()
        env = submitit.JobEnvironment()
        start = os.environ.get("SLURM_RESTART_COUNT", "0")
        with hold(self._folders[job_num], f"job {env.job_id} (start {start})", env.global_rank):
            ret = super().__call__(sweep_overrides, job_dir_key, job_num, job_id, singleton_state)
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
            check_request(self.params)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir}")
        log.info("to re-run or collect this sweep later: %s", rerun_command(sweep_dir))
        returns: dict[int, JobReturn] = {}
        todo = []
        self._folders = {}
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            overrides = list(overrides)
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            done = self._done_before(overrides, idx)
            if done is not None:
                log.info("\t   completed before with this config: not submitted again")
                returns[idx] = JobReturn(
                    overrides=overrides,
                    status=JobStatus.COMPLETED,
                    _return_value=done.get("test_acc"),
                )
            else:
                todo.append((idx, overrides))
                busy = holder(self._folders[idx])
                if busy:
                    log.warning("\t   its folder is in use by %s: its new job waits for it", busy)
        if todo:
            jobs = self._submit(submitit, todo)
            try:
                self._wait(jobs, sweep_dir)
                for job, (idx, overrides) in zip(jobs, todo, strict=True):
                    returns[idx] = self._outcome(job, overrides, idx)
            except LauncherSignal as e:
                ids = sorted({j.job_id.split("_")[0] for j in jobs})
                print_error(
                    f"the launcher got {e.args[1]}: its {len(jobs)} job(s) keep running (squeue -j "
                    f"{','.join(ids)}); to collect them, once or while they run, re-run: "
                    f"{rerun_command(sweep_dir)}"
                )
                raise SystemExit(128 + e.args[0]) from None
            except BaseException:  # Ctrl-C, or the watcher itself failed: leave nothing running
                for job in jobs:
                    if not job.done():
                        job.cancel(check=False)
                raise
        return [returns[i] for i in sorted(returns)]

    def _submit(self, submitit: Any, todo: list[tuple[int, list[str]]]) -> list[Any]:
        """As the plugin's launch: the executor, then one array of the jobs to run."""
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
        state = Singleton.get_state()
        args = [(o, "hydra.sweep.dir", i, f"job_id_for_{i}", state) for i, o in todo]
        # submitit stages the pickled call beside the per-job folders (`.submitit/%j`).
        folder = Path(str(self.params["submitit_folder"]).split("%", 1)[0])
        staged = set(folder.glob("*.pkl"))
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit echoes sbatch's errors
                return executor.map_array(self, *zip(*args, strict=True))
        except submitit.core.utils.FailedJobError as e:  # sbatch said no
            for dump in set(folder.glob("*.pkl")) - staged:  # the call it staged for sbatch
                dump.unlink(missing_ok=True)
            refuse(f"sbatch refused the sweep's jobs ({str(e).strip().splitlines()[-1]})")

    def _wait(self, jobs: list[Any], sweep_dir: Path) -> None:
        """Until every job has ended; SIGHUP and SIGTERM leave them running (LauncherSignal)."""

        def detach(signum: int, frame: Any) -> None:
            raise LauncherSignal(signum, signal.Signals(signum).name)

        # Not when ignored (nohup): then the launcher goes on watching, as asked.
        handled = [s for s in (signal.SIGHUP, signal.SIGTERM) if signal.getsignal(s) == SIG_DFL]
        for s in handled:
            signal.signal(s, detach)
        try:
            delay, next_look = 5.0, time.time() + 5
            while not all(job.done() for job in jobs):
                if self._EXECUTOR == "slurm" and time.time() >= next_look:
                    self._refuse_never_starting(jobs, sweep_dir)
                    delay = min(60.0, delay * 2)
                    next_look = time.time() + delay
                time.sleep(1)
        finally:
            for s in handled:
                signal.signal(s, signal.SIG_DFL)

    def _refuse_never_starting(self, jobs: list[Any], sweep_dir: Path) -> None:
        stuck = never_starting({j.job_id.split("_")[0] for j in jobs})
        if stuck is None:
            return
        job, reason = stuck
        setting = next((s for key, s in SETTING_FOR_REASON if key in reason), "partition")
        for j in jobs:
            j.cancel(check=False)
        refuse(
            f"SLURM job {job} pends with Reason={reason}, which never clears while its request "
            f"stands (scontrol show job {job}): change hydra.launcher.{setting}; the sweep's "
            f"jobs were cancelled; then re-run: {rerun_command(sweep_dir)}"
        )

    def _done_before(self, overrides: list[str], idx: int) -> dict[str, Any] | None:
        """Notes the job's folder; its earlier results when it completed there with this config.

        The fingerprint is the job's own (training.rerun): the config resolved with this job's
        folder as Hydra's output_dir. Only under the basic sweeper, whose jobs are fixed."""
        assert self.config is not None
        cfg = self._job_config(overrides, idx)
        folder = Path(os.path.abspath(Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)))
        self._folders[idx] = folder
        sweeper = str(self.config.hydra.sweeper.get("_target_", ""))
        if sweeper != BASIC_SWEEPER or (job_status(folder) or {}).get("status") != "completed":
            return None
        hydra_config = HydraConfig.instance()
        before = hydra_config.cfg
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(folder)
        try:
            hydra_config.set_config(cfg)
            task = copy.deepcopy(cfg)
            with open_dict(task):
                del task["hydra"]
            return completed_with(folder, fingerprint(task))
        finally:
            hydra_config.cfg = before

    def _outcome(self, job: Any, overrides: list[str], idx: int) -> JobReturn:
        """The job's return, or a completed empty return once its failure is on record."""
        import submitit

        try:
            return job.results()[0]
        except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError) as e:
            cfg = self._job_config(overrides, idx)
            output_dir = Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)
            recorded = job_status(output_dir) or {}
            # Not while another job (an older sweep's) still runs there: it writes its own.
            if recorded.get("status") not in ("failed", "completed") and not holder(output_dir):
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
