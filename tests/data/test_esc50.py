"""ESC-50 / ESC-10 DataModules on a small official-layout copy: folds, re-indexing, bad input."""

from __future__ import annotations

import ast

import numpy as np
import pytest
import soundfile as sf

from fpam_lightning.data import ESC50DataModule
from fpam_lightning.utils.errors import DataError

from .conftest import ESC10, ESC_COLUMNS, read_csv, write_csv


def dm_for(root, **kw) -> ESC50DataModule:
    kw = {
        "subset": "esc50",
        "num_classes": 12,
        "sample_rate": 16000,
        "clip_seconds": 0.5,
        "num_workers": 0,
        "batch_size": 4,
        **kw,
    }
    return ESC50DataModule(str(root), cache_dir=str(root.parent / "cache"), **kw)


def ready(dm: ESC50DataModule) -> ESC50DataModule:
    dm.prepare_data()
    dm.setup()
    return dm


@pytest.mark.parametrize("val", ["test_fold", "split", "none"])
def test_folds_are_disjoint_and_test_is_exactly_the_fold(esc_dir, val):
    for fold in (1, 4):
        dm = ready(dm_for(esc_dir, fold=fold, val=val, val_fraction=0.25))
        folds = dm.table.folds
        train, valid, test = (set(dm.indices[k].tolist()) for k in ("train", "val", "test"))
        assert test == set(np.flatnonzero(folds == fold).tolist())
        assert not train & test
        if val != "split":
            assert train | test == set(range(len(folds)))
        if val == "test_fold":
            assert valid == test
        elif val == "split":  # a stratified slice of the training folds, never the test fold
            assert valid and not valid & test and not valid & train
            assert train | valid | test == set(range(len(folds)))
            assert len({int(t) for t in dm.table.targets[list(valid)]}) == 12
            again = ready(dm_for(esc_dir, fold=fold, val=val, val_fraction=0.25))
            assert np.array_equal(again.indices["val"], dm.indices["val"])  # seeded
        else:
            assert not valid and dm.val_dataloader() == []
        wave, target, index = dm.dataset("test")[0]
        assert wave.shape == (8000,) and folds[index] == fold


def test_esc10_reindexes_to_ten_classes_named_from_the_csv(esc_dir):
    dm = ready(dm_for(esc_dir, subset="esc10", num_classes=10))
    assert dm.num_classes == 10 and len(dm.table) == 50
    assert dm.class_names == [ESC10[t] for t in sorted(ESC10)]
    assert sorted(set(dm.table.targets.tolist())) == list(range(10))
    for f, t in zip(dm.table.files, dm.table.targets, strict=True):
        original = int(f.rsplit("-", 1)[1].split(".")[0])
        assert dm.class_names[t] == ESC10[original]


def test_cache_seconds_lets_the_cache_hold_longer_clips(esc_dir):
    dm = ready(dm_for(esc_dir, clip_seconds=0.25, cache_seconds=0.5))
    assert dm.clip_samples == 4000 and dm.waves.shape == (60, 8000)
    with pytest.raises(DataError, match="cache_seconds"):
        dm_for(esc_dir, clip_seconds=0.5, cache_seconds=0.25)


def break_file(root, how: str) -> str:
    """Damage the third clip of the CSV; return its file name."""
    _, rows = read_csv(root / "meta" / "esc50.csv")
    name = rows[2][0]
    path = root / "audio" / name
    if how == "missing":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:3000])
    elif how == "corrupt":
        path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(200))
    elif how == "nonfinite":  # a float WAV can hold NaN: libsndfile reads it as it is
        data, sr = sf.read(path, dtype="float32")
        data[100:110] = np.nan
        sf.write(path, data, sr, subtype="FLOAT")
    return name


@pytest.mark.parametrize(
    "how,reason",
    [
        ("missing", "file not found"),
        ("empty", "empty file"),
        ("truncated", "truncated WAV"),
        ("corrupt", "WAV has no data chunk"),
        ("nonfinite", "non-finite samples: 10 NaN value"),
    ],
)
def test_bad_files_name_the_file_and_csv_row_or_are_skipped_and_counted(esc_dir, how, reason):
    name = break_file(esc_dir, how)
    with pytest.raises(DataError, match=rf"{name} \(esc50.csv row 4\): {reason}"):
        dm_for(esc_dir).prepare_data()
    dm = ready(dm_for(esc_dir, on_bad_file="skip"))
    assert dm.skipped == [f"{name} (esc50.csv row 4)"]
    used = np.concatenate([dm.indices["train"], dm.indices["test"]])
    assert 2 not in used and len(used) == 59
    assert np.isfinite(dm.waves[used]).all()


def test_skipped_files_are_said_once_and_left_out_of_the_counts(esc_dir, caplog):
    names = [break_file(esc_dir, "missing")]
    _, rows = read_csv(esc_dir / "meta" / "esc50.csv")
    (esc_dir / "audio" / rows[10][0]).write_bytes(b"")
    names.append(rows[10][0])
    dm = dm_for(esc_dir, on_bad_file="skip")
    with caplog.at_level("INFO", logger="fpam_lightning.data"):
        for _ in range(2):  # as Lightning does: prepare_data and setup for fit, then for test
            dm.prepare_data()
            dm.setup()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "skipping 2 of 60 audio files" in warnings[0]
    assert all(name in warnings[0] for name in names)
    info = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    (sizes,) = [m for m in info if "held-out fold" in m]
    assert "58 clips (2 skipped of 60 listed)" in sizes
    (every,) = [m for m in info if m.startswith("all clips per class")]
    assert sum(ast.literal_eval(every.split(": ", 1)[1]).values()) == 58


def test_a_held_out_fold_without_usable_clips_is_refused(esc_dir):
    for path in (esc_dir / "audio").glob("2-*.wav"):
        path.unlink()
    dm = dm_for(esc_dir, on_bad_file="skip", fold=2)
    with pytest.raises(DataError, match="held-out fold 2 of esc50 has no usable clip: all 12"):
        dm.prepare_data()
    ready(dm_for(esc_dir, on_bad_file="skip", fold=3))  # other folds still train and test


def test_silent_clip_is_valid_data(esc_dir):
    _, rows = read_csv(esc_dir / "meta" / "esc50.csv")
    import soundfile as sf

    sf.write(esc_dir / "audio" / rows[0][0], np.zeros(22050), 44100, subtype="PCM_16")
    dm = ready(dm_for(esc_dir))
    assert dm.skipped == [] and not dm.waves[0].any()


def edit_csv(root, header=None, change=None):
    path = root / "meta" / "esc50.csv"
    h, rows = read_csv(path)
    if change:
        change(rows)
    write_csv(path, header or h, rows)


def test_csv_errors_are_caught_at_setup(esc_dir):
    edit_csv(esc_dir, header=[c if c != "fold" else "folds" for c in ESC_COLUMNS])
    with pytest.raises(DataError, match="lacks the column.*fold"):
        dm_for(esc_dir).prepare_data()
    edit_csv(esc_dir, header=ESC_COLUMNS)

    def fold6(rows):
        rows[4][1] = "6"

    edit_csv(esc_dir, change=fold6)
    with pytest.raises(DataError, match=r"row 6 \(.*\.wav\): fold 6 is out of range 1..5"):
        dm_for(esc_dir).prepare_data()

    def restore_and_target(rows):
        rows[4][1] = "1"
        rows[7][2] = "50"

    edit_csv(esc_dir, change=restore_and_target)
    with pytest.raises(DataError, match=r"row 9 \(.*\.wav\): target 50 is out of range 0..49"):
        dm_for(esc_dir).prepare_data()

    def restore(rows):
        rows[7][2] = rows[7][0].rsplit("-", 1)[1].split(".")[0]

    edit_csv(esc_dir, change=restore)
    ready(dm_for(esc_dir))  # the copy is whole again
    with pytest.raises(
        DataError, match="defines 12 classes but the config expects data.num_classes=50"
    ):
        dm_for(esc_dir, num_classes=50).prepare_data()


def test_missing_data_set_says_how_to_place_it(tmp_path):
    with pytest.raises(DataError, match="not found.*data.root=/path/to/esc50.*data.download=true"):
        dm_for(tmp_path / "nowhere").prepare_data()


def test_cache_seconds_reaches_the_module_crop(tiny_overrides, tmp_path):
    """The cache holds cache_seconds; the module sees clip_samples: random crops in training,
    the centre in evaluation."""
    import torch
    from helpers import compose_train

    from fpam_lightning.training.build import build_datamodule, build_module, module_hparams

    cfg = compose_train(
        [
            *tiny_overrides,
            "data.clip_seconds=0.25",
            "data.cache_seconds=0.5",
            f"data.cache_dir={tmp_path / 'cache'}",
        ],
        tmp_path / "run",
    )
    dm = build_datamodule(cfg.data)
    dm.prepare_data()
    dm.setup()
    module = build_module(module_hparams(cfg), dm)
    assert dm.waves.shape[1] == 8000 and module.clip_samples == dm.clip_samples == 4000
    wave = torch.from_numpy(np.array(dm.waves[:4]))
    assert torch.equal(module.crop(wave, train=False), wave[:, 2000:6000])
    torch.manual_seed(0)
    crops = module.crop(wave, train=True)
    assert crops.shape == (4, 4000)
    starts = []
    for row, crop in zip(wave, crops, strict=True):
        start = next(s for s in range(4001) if torch.equal(row[s : s + 4000], crop))
        starts.append(start)
    assert len(set(starts)) > 1  # each clip its own random offset
