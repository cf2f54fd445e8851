"""`bench --precision-grid`: every model in every precision and memory format, timed."""

from __future__ import annotations

import pytest

from fpam_lightning.benchmarks import precision_grid


@pytest.mark.slow  # bf16 is emulated on CPUs without AMX / AVX-512 BF16: minutes there
def test_every_cell_is_timed_and_tabled_against_float32():
    rows = precision_grid.measure(["mn04"], batch=2, frames=40, mels=128, rounds=1, log=print)
    cells = {(r["precision"], r["channels_last"]) for r in rows}
    assert cells == set(precision_grid.CELLS) and all(r["clips_per_s"] > 0 for r in rows)
    table = precision_grid.markdown(rows, "a CPU", "batch 2")
    assert "| mn04 | " in table and "(1.00x)" in table and "on a CPU" in table
