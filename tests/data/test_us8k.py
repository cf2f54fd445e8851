"""UrbanSound8K DataModule on a small official-layout copy holding every WAV encoding of US8K."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from fpam_lightning.data import UrbanSound8KDataModule
from fpam_lightning.data.synthetic import US8K_CLASSES, US8K_FORMATS
from fpam_lightning.utils.errors import DataError

from .conftest import read_csv, write_csv


def dm_for(root, **kw) -> UrbanSound8KDataModule:
    kw = {"sample_rate": 22050, "clip_seconds": 1.0, "num_workers": 0, "batch_size": 4, **kw}
    return UrbanSound8KDataModule(str(root), cache_dir=str(root.parent / "cache"), **kw)


def ready(dm):
    dm.prepare_data()
    dm.setup()
    return dm


def test_layout_formats_folds_and_lengths(us8k_dir):
    header, rows = read_csv(us8k_dir / "metadata" / "UrbanSound8K.csv")
    assert header == [
        "slice_file_name",
        "fsID",
        "start",
        "end",
        "salience",
        "fold",
        "classID",
        "class",
    ]
    seen = {
        (
            sf.info(us8k_dir / "audio" / f"fold{r[5]}" / r[0]).subtype,
            sf.info(us8k_dir / "audio" / f"fold{r[5]}" / r[0]).samplerate,
            sf.info(us8k_dir / "audio" / f"fold{r[5]}" / r[0]).channels,
        )
        for r in rows
    }
    assert seen == set(US8K_FORMATS)  # 8-bit unsigned .. 32-bit float, 8 .. 96 kHz, 1-2 ch
    dm = ready(dm_for(us8k_dir, fold=10))
    assert dm.class_names == list(US8K_CLASSES) and dm.num_classes == 10
    assert dm.waves.shape == (100, 22050) and dm.skipped == []
    test = dm.indices["test"]
    assert set(dm.table.folds[test]) == {10} and len(test) == 10
    assert not set(test) & set(dm.indices["train"])
    # Every clip is shorter than 1 s (0.25..0.5 s): decoded audio, then zero padding.
    for i in range(100):
        wave = np.asarray(dm.waves[i])
        assert np.abs(wave[:5000]).max() > 0.05, dm.table.files[i]
        assert not wave[12000:].any(), dm.table.files[i]


@pytest.mark.parametrize("fold", [0, 11])
def test_fold_setting_out_of_range(us8k_dir, fold):
    with pytest.raises(DataError, match=r"data.fold=.* choose 1..10"):
        dm_for(us8k_dir, fold=fold)


def test_csv_range_errors_name_row_and_file(us8k_dir):
    path = us8k_dir / "metadata" / "UrbanSound8K.csv"
    header, rows = read_csv(path)
    orig = [list(r) for r in rows]
    rows[3][5] = "11"
    write_csv(path, header, rows)
    with pytest.raises(DataError, match=rf"row 5 \({rows[3][0]}\): fold 11 is out of range 1..10"):
        dm_for(us8k_dir).prepare_data()
    rows = [list(r) for r in orig]
    rows[6][6] = "10"
    write_csv(path, header, rows)
    with pytest.raises(DataError, match=rf"row 8 \({rows[6][0]}\): classID 10 is out of range"):
        dm_for(us8k_dir).prepare_data()
    write_csv(path, header[:-1], [r[:-1] for r in orig])
    with pytest.raises(DataError, match="lacks the column.*class"):
        dm_for(us8k_dir).prepare_data()
    write_csv(path, header, [r for r in orig if r[6] != "9"])
    with pytest.raises(
        DataError, match="defines 9 classes but the config expects data.num_classes=10"
    ):
        dm_for(us8k_dir).prepare_data()


def test_bad_file_in_a_fold_folder_is_named_and_skipped(us8k_dir):
    _, rows = read_csv(us8k_dir / "metadata" / "UrbanSound8K.csv")
    victim = us8k_dir / "audio" / f"fold{rows[10][5]}" / rows[10][0]
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(
        DataError,
        match=rf"fold2/{rows[10][0]} \(UrbanSound8K.csv row 12\): "
        "truncated WAV",
    ):
        dm_for(us8k_dir).prepare_data()
    dm = ready(dm_for(us8k_dir, on_bad_file="skip", fold=2))
    assert len(dm.skipped) == 1 and len(dm.indices["test"]) == 9
