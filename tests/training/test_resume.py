"""Resume and determinism: `ckpt_path=last` continues a run in its own folder, exactly.

A 1-epoch run resumed to 2 epochs must end bit-identical to an uninterrupted 2-epoch run under
trainer.deterministic=true: same weights, same metrics. The schedule decays every epoch and time
flips are on, so a lost scheduler state, optimizer state or random stream would show.
"""

from __future__ import annotations

import torch
from helpers import compose_train
from wandb_records import summarize_run

from fpam_lightning.training.loggers import RUN_ID_FILE
from fpam_lightning.training.run import train
from fpam_lightning.utils.cli import finish_wandb


def run(tiny: list[str], out, *extra: str) -> dict:
    cfg = compose_train(
        [
            *tiny,
            "trainer.deterministic=true",
            "scheduler.schedule.step_size=1",
            "augment.time_flip=0.5",
            "logger=wandb",
            *extra,
        ],
        out,
    )
    try:
        return train(cfg)
    finally:
        finish_wandb(0)


def weights(results: dict) -> dict[str, torch.Tensor]:
    return torch.load(results["ckpt_path"], map_location="cpu", weights_only=True)["state_dict"]


def test_resume_from_last_matches_an_uninterrupted_run(tmp_path, tiny_overrides):
    first = run(tiny_overrides, tmp_path / "a", "trainer.max_epochs=1")
    run_id = (tmp_path / "a" / RUN_ID_FILE).read_text().strip()
    resumed = run(tiny_overrides, tmp_path / "a", "trainer.max_epochs=2", "ckpt_path=last")
    straight = run(tiny_overrides, tmp_path / "b", "trainer.max_epochs=2", "logger=csv")

    assert first["epochs"] == 1 and resumed["epochs"] == straight["epochs"] == 2
    for key in ("test_acc", "test_loss", "best_epoch_test_acc"):
        assert resumed[key] == straight[key], key  # bit-identical, not approximately equal
    w_resumed, w_straight = weights(resumed), weights(straight)
    assert w_resumed.keys() == w_straight.keys()
    assert all(torch.equal(w_resumed[k], w_straight[k]) for k in w_straight)

    # The resumed job continued its W&B run: same id, a second offline segment of it.
    assert resumed["wandb_run_id"] == run_id == first["wandb_run_id"]
    segments = [summarize_run(d) for d in sorted((tmp_path / "a").glob("wandb/offline-run-*"))]
    assert [s["run_id"] for s in segments] == [run_id, run_id]
    assert straight["wandb_run_id"] is None  # logger=csv: loggers do not change the numbers
