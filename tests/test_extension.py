"""README "Your own head, backbone, data set or schedule": its example, run as a user would.

The head and backbone classes, their YAML files and the command are read from the README, written
into a temporary folder outside the package, and trained and tested through
`python -m fpam_lightning.train` with nothing changed in the package.
"""

from __future__ import annotations

import json
import re
import shlex

from helpers import REPO, run_cli


def readme_example() -> tuple[str, dict[str, str], list[str]]:
    """The example's Python module, its YAML files by path, and its command's arguments."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Your own head, backbone, data set or schedule", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    code = next(body for lang, body in blocks if lang == "python")
    yamls = {
        body.splitlines()[0].lstrip("# ").strip(): body for lang, body in blocks if lang == "yaml"
    }
    command = next(body for lang, body in blocks if lang == "bash").replace("\\\n", " ")
    args = shlex.split(command)
    assert args[:4] == ["PYTHONPATH=.", "python", "-m", "fpam_lightning.train"], args
    return code, yamls, args[4:]


def test_the_readme_example_trains_a_head_and_backbone_of_ones_own(tmp_path):
    code, yamls, args = readme_example()
    user = tmp_path / "my_project"
    user.mkdir()
    (user / "my_parts.py").write_text(code)
    assert set(yamls) == {"conf/attention/meanmax.yaml", "conf/backbone/tiny.yaml"}
    for path, body in yamls.items():
        (user / path).parent.mkdir(parents=True, exist_ok=True)
        (user / path).write_text(body)
    run = tmp_path / "run"
    run_cli(
        "fpam_lightning.train",
        *args,
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "logger=none",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={run}",
        cwd=user,
        env={"PYTHONPATH": "."},
    )
    res = json.loads((run / "results.json").read_text())
    assert res["status"] == "completed"
    assert (res["backbone"], res["attention"]) == ("tiny", "meanmax")
    assert res["num_parameters"] < 50_000  # the tiny CNN and its head, not a ResNet
    assert res["test_acc"] > 0.3  # 10 classes: chance is 0.1
    saved = (run / ".hydra" / "config.yaml").read_text()
    assert "_target_: my_parts.MeanMaxHead" in saved and "_target_: my_parts.TinyCNN" in saved
