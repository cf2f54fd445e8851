"""fpam_lightning's SLURM and local submitit launchers (hydra/launcher=slurm, slurm_cpu).

Hydra instantiates launcher plugins only from the `hydra_plugins` namespace, so the classes are
named here; what they do is in fpam_lightning/utils/launchers.py.
"""

from fpam_lightning.utils.launchers import SafeSubmititLauncher


class SlurmLauncher(SafeSubmititLauncher):
    _EXECUTOR = "slurm"


class LocalLauncher(SafeSubmititLauncher):
    _EXECUTOR = "local"
