"""utils.cli: the one owner of command exits, for user errors that Hydra's `instantiate` wraps.

What Hydra itself owns (run folders, the multirun's end) goes through the `CommandExit` Hydra
callback: tests/reporting/test_hydra_callbacks.py."""

from __future__ import annotations

import pytest
from helpers import error_lines
from hydra.errors import InstantiationException
from omegaconf import OmegaConf

from fpam_lightning.utils import cli
from fpam_lightning.utils.errors import DataError


def test_a_user_error_wrapped_by_instantiate_still_exits_2(capsys):
    def body(cfg):
        try:
            raise DataError("data.clip_seconds must be positive")
        except DataError as e:  # what hydra.utils.instantiate does with a constructor's error
            raise InstantiationException("Error in call to target 'X':\nDataError(...)") from e

    with pytest.raises(SystemExit) as stop:
        cli.hydra_command(body)(OmegaConf.create({}))
    assert stop.value.code == cli.USER_ERROR_EXIT_CODE
    assert error_lines(capsys.readouterr().err) == ["error: data.clip_seconds must be positive"]
    with pytest.raises(ZeroDivisionError):  # anything else still propagates in a single run
        cli.hydra_command(lambda cfg: 1 / 0)(OmegaConf.create({}))
