"""Training-part tests run single-threaded: on a shared 2-core machine, busy-waiting threads make
small tensor operations slower, never faster."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
