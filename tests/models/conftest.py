"""Models tests run single-threaded (see helpers.single_threaded)."""

from __future__ import annotations

import pytest
from helpers import single_threaded

_one_thread = pytest.fixture(autouse=True, scope="module")(single_threaded)
