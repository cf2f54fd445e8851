"""The per-run files every layer shares: confusion counts, and predictions.csv read back."""

from __future__ import annotations

import numpy as np
import pytest

from fpam_lightning.utils.errors import FpamError
from fpam_lightning.utils.run_files import confusion_counts, read_predictions, write_csv


def test_confusion_counts_match_sklearn():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    cm = confusion_counts(y, p, 5)  # a class that never occurs is a row and column of zeros
    np.testing.assert_array_equal(cm, confusion_matrix(y, p, labels=range(5)))
    assert cm.dtype == np.int64 and cm.sum() == 50


def test_read_predictions_errors_are_one_line(tmp_path):
    with pytest.raises(FpamError, match="is not a file: run `python -m fpam_lightning.evaluate"):
        read_predictions(tmp_path / "predictions.csv")
    write_csv(tmp_path / "predictions.csv", [], ["file", "target", "predicted", "prob_dog"])
    with pytest.raises(FpamError, match="has no predictions"):
        read_predictions(tmp_path / "predictions.csv")
