"""The embeddings file of a scoring pass, read back."""

from __future__ import annotations

import numpy as np

from fpam_lightning.inference.scoring import Scores, write_embeddings

NAMES = ["dog", "rain", "sea_waves"]


def test_embeddings_file_round_trip(tmp_path):
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    scores = Scores(probs, np.array([0, 1]), np.array([4, 9]), np.ones((2, 5)), 0.5)
    path = write_embeddings(tmp_path / "e.npz", scores, NAMES, "epoch 3")
    z = np.load(path, allow_pickle=False)
    assert sorted(z.files) == ["class_names", "embeddings", "predicted", "targets", "title"]
    assert list(z["predicted"]) == [0, 2] and list(z["class_names"]) == NAMES
    assert str(z["title"]) == "epoch 3" and z["embeddings"].shape == (2, 5)
