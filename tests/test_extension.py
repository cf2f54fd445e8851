"""README "Your own head, backbone, data set or schedule": its example, run as a user would.

The head, backbone and data set classes, their YAML files and the commands are read from the
README, written into a temporary folder outside the package, and trained and tested through
`python -m fpam_lightning.train` with nothing changed in the package.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import soundfile as sf
from helpers import REPO, run_cli


def readme_example() -> tuple[dict[str, str], list[list[str]]]:
    """The example's files by path (each block's first line names it) and its commands' args."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Your own head, backbone, data set or schedule", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    files = {
        body.splitlines()[0].lstrip("# ").strip(): body
        for lang, body in blocks
        if lang in ("python", "yaml")
    }
    commands = []
    for lang, body in blocks:
        if lang == "bash":
            args = shlex.split(body.replace("\\\n", " "))
            assert args[:4] == ["PYTHONPATH=.", "python", "-m", "fpam_lightning.train"], args
            commands.append(args[4:])
    return files, commands


def user_project(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    files, commands = readme_example()
    assert set(files) == {
        "my_parts.py",
        "my_data.py",
        "conf/attention/meanmax.yaml",
        "conf/backbone/tiny.yaml",
        "conf/data/my_clips.yaml",
    }
    user = tmp_path / "my_project"
    for path, body in files.items():
        (user / path).parent.mkdir(parents=True, exist_ok=True)
        (user / path).write_text(body)
    return user, commands


def train_as_user(user: Path, args: list[str], tmp_path: Path) -> dict:
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
    res["saved_config"] = (run / ".hydra" / "config.yaml").read_text()
    return res


def test_the_readme_example_trains_a_head_and_backbone_of_ones_own(tmp_path):
    user, commands = user_project(tmp_path)
    res = train_as_user(user, commands[0], tmp_path)
    assert res["status"] == "completed"
    assert (res["backbone"], res["attention"]) == ("tiny", "meanmax")
    assert res["num_parameters"] < 50_000  # the tiny CNN and its head, not a ResNet
    assert res["test_acc"] > 0.3  # 10 classes: chance is 0.1
    saved = res["saved_config"]
    assert "_target_: my_parts.MeanMaxHead" in saved and "_target_: my_parts.TinyCNN" in saved


def write_my_clips(root: Path) -> None:
    """The layout the README names: audio/*.wav and labels.csv, 3 classes x 4 folds x 4 clips
    (a tone per class in noise, at 22.05 kHz so that the loader resamples)."""
    rng = np.random.default_rng(0)
    (root / "audio").mkdir(parents=True)
    lines = ["file,fold,label"]
    t = np.arange(22050) / 22050
    for label, hz in (("low", 300.0), ("mid", 1200.0), ("high", 4000.0)):
        for fold in range(1, 5):
            for i in range(4):
                wave = 0.3 * np.sin(2 * np.pi * hz * t) + 0.05 * rng.standard_normal(t.size)
                name = f"{label}_{fold}_{i}.wav"
                sf.write(root / "audio" / name, wave.astype(np.float32), 22050)
                lines.append(f"{name},{fold},{label}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")


def test_the_readme_example_trains_on_a_data_set_of_ones_own(tmp_path):
    user, commands = user_project(tmp_path)
    write_my_clips(tmp_path / "data" / "my_clips")
    res = train_as_user(user, commands[1], tmp_path)
    assert res["status"] == "completed" and res["dataset"] == "my_clips"
    assert res["num_test"] == 12  # fold 1: 3 classes x 4 clips, every one scored once
    assert res["test_acc"] > 0.5  # 3 classes: chance is 1/3
    assert "_target_: my_data.MyClips" in res["saved_config"]
