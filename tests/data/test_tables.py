"""tables: one reader and one set of checks for every data set's metadata CSV."""

from __future__ import annotations

import numpy as np
import pytest

from fpam_lightning.data import ESC50DataModule, UrbanSound8KDataModule
from fpam_lightning.data.tables import ESC50_LAYOUT, US8K_LAYOUT, clip_table, read_rows
from fpam_lightning.utils.errors import DataError

from .conftest import ESC10, read_csv, write_csv

BOM = b"\xef\xbb\xbf"


def resave_with_bom(path) -> None:
    """Save the CSV again as a spreadsheet program's "CSV UTF-8" does: BOM and CRLF."""
    header, rows = read_csv(path)
    write_csv(path, header, rows, bom=True)
    raw = path.read_bytes()
    assert raw.startswith(BOM + header[0].encode()) and b"\r\n" in raw


@pytest.mark.parametrize("subset", ["esc50", "esc10"])
def test_esc50_csv_with_a_byte_order_mark_reads_through_the_data_module(esc_dir, subset):
    resave_with_bom(esc_dir / "meta" / "esc50.csv")
    n = 12 if subset == "esc50" else 10
    dm = ESC50DataModule(
        str(esc_dir),
        subset=subset,
        num_classes=n,
        sample_rate=16000,
        clip_seconds=0.5,
        num_workers=0,
        batch_size=4,
        cache_dir=str(esc_dir.parent / "cache"),
    )
    dm.prepare_data()
    dm.setup()
    assert len(dm.table) == 5 * n and dm.skipped == []
    if subset == "esc10":
        assert dm.class_names == [ESC10[t] for t in sorted(ESC10)]
    assert dm.table.files[0] == "1-100001-A-0.wav" and dm.table.rows[0] == 2
    wave, target, index = next(iter(dm.train_dataloader()))
    assert wave.shape == (4, 8000) and target.max() < n and wave.abs().amax(1).min() > 0


def test_us8k_csv_with_a_byte_order_mark_reads_through_the_data_module(us8k_dir):
    resave_with_bom(us8k_dir / "metadata" / "UrbanSound8K.csv")
    dm = UrbanSound8KDataModule(
        str(us8k_dir),
        fold=3,
        sample_rate=22050,
        clip_seconds=0.5,
        num_workers=0,
        batch_size=5,
        cache_dir=str(us8k_dir.parent / "cache"),
    )
    dm.prepare_data()
    dm.setup()
    assert len(dm.table) == 100 and dm.skipped == [] and dm.num_classes == 10
    assert all(
        f.startswith(f"fold{k}/") for f, k in zip(dm.table.files, dm.table.folds, strict=True)
    )
    wave, target, _ = next(iter(dm.test_dataloader()))
    assert wave.shape == (5, 11025) and wave.abs().amax(1).min() > 0


def write(tmp_path, layout, rows, header=None, **kw):
    path = tmp_path / "meta.csv"
    write_csv(path, list(header or layout.columns), rows, **kw)
    return path


def esc_row(name, fold, target, category="dog"):
    return [name, fold, target, category, "True", 1, "A"]


def us8k_row(name, fold, target, category="dog_bark", salience=1):
    return [name, 1, 0.0, 1.0, salience, fold, target, category]


# The same check, and the same kind of message, for both data sets' columns.
LAYOUTS = {
    "esc50": (ESC50_LAYOUT, esc_row, {"num_folds": 5, "num_classes": 50, "reindex": True}),
    "us8k": (
        US8K_LAYOUT,
        us8k_row,
        {"num_folds": 10, "num_classes": 10, "classes_note": " (data.num_classes=10)"},
    ),
}


def table_of(path, which):
    layout, _, kw = LAYOUTS[which]
    return clip_table(path, read_rows(path, layout.columns), layout, **kw)


@pytest.mark.parametrize("which", list(LAYOUTS))
@pytest.mark.parametrize(
    "bad,message",
    [
        ({"fold": "x"}, "row 3: {fold}='x' is not an integer"),
        ({"fold": ""}, "row 3: {fold}='' is not an integer"),
        ({"target": "1.0"}, "row 3: {target}='1.0' is not an integer"),
        ({"fold": 11}, "row 3 (b.wav): {fold} 11 is out of range 1..{folds}"),
        ({"target": -1}, "row 3 (b.wav): {target} -1 is out of range 0..{top}"),
        ({"category": "cat"}, "row 3 (b.wav): {target} 0 is both '{first}' and 'cat'"),
        ({"name": "a.wav"}, "row 3: {rel}a.wav is listed twice (also row 2)"),
    ],
    ids=["fold-text", "fold-empty", "target-float", "fold", "target", "two-names", "twice"],
)
def test_row_errors_name_the_file_row_and_reason(tmp_path, which, bad, message):
    layout, row, kw = LAYOUTS[which]
    second = {"name": "b.wav", "fold": 1, "target": 0, **bad}
    category = {"category": bad["category"]} if "category" in bad else {}
    rows = [
        row("a.wav", 1, 0),
        row(second["name"], second["fold"], second["target"], **category),
        row("c.wav", 2, 1, "other"),
    ]
    path = write(tmp_path, layout, rows)
    expected = message.format(
        fold=layout.fold,
        target=layout.target,
        folds=kw["num_folds"],
        top=kw["num_classes"] - 1,
        first=row("a.wav", 1, 0)[3 if which == "esc50" else 7],
        rel="fold1/" if layout.fold_folders else "",
    )
    with pytest.raises(DataError) as err:
        table_of(path, which)
    assert str(err.value).startswith(f"{path} {expected}")


def test_class_id_bounds_and_gaps(tmp_path):
    path = write(tmp_path, US8K_LAYOUT, [us8k_row("a.wav", 1, 10)])
    with pytest.raises(DataError, match=r"row 2 \(a.wav\): classID 10 is out of range 0..9 \("):
        table_of(path, "us8k")
    rows = [us8k_row("a.wav", 1, 0, "a"), us8k_row("b.wav", 1, 2, "c")]
    path = write(tmp_path, US8K_LAYOUT, rows)
    with pytest.raises(DataError, match=r"classIDs \[0, 2\] are not 0..1; a class has no clips"):
        table_of(path, "us8k")
    layout, _, kw = LAYOUTS["us8k"]
    rows = read_rows(path, layout.columns)
    with pytest.raises(DataError, match=r"row 2 \(a.wav\): classID -1 is negative"):
        clip_table(path, [(2, {**rows[0][1], "classID": "-1"})], layout, num_folds=10)
    # ESC-10 keeps its ESC-50 ids: any set is re-indexed to 0..K-1 in order.
    path = write(tmp_path, ESC50_LAYOUT, [esc_row("a.wav", 1, 41, "saw"), esc_row("b.wav", 2, 1)])
    table = table_of(path, "esc50")
    assert table.class_names == ["dog", "saw"] and table.targets.tolist() == [1, 0]
    assert table.extra["original_targets"] == [1, 41]


def test_columns_empty_tables_and_encodings(tmp_path):
    header = [c if c != "fold" else "folds" for c in ESC50_LAYOUT.columns]
    path = write(tmp_path, ESC50_LAYOUT, [esc_row("a.wav", 1, 0)], header=header)
    with pytest.raises(DataError, match=rf"^{path} lacks the column\(s\) fold; expected filename"):
        table_of(path, "esc50")
    path = write(tmp_path, ESC50_LAYOUT, [])
    with pytest.raises(DataError, match=rf"^{path} lists no clips$"):
        table_of(path, "esc50")
    # Without utf-8-sig the BOM would glue to "filename", which would then look missing.
    path = write(tmp_path, ESC50_LAYOUT, [esc_row("a.wav", 1, 0)], bom=True)
    assert path.read_bytes().startswith(BOM)
    assert table_of(path, "esc50").files == ["a.wav"]
    path.write_bytes(",".join(ESC50_LAYOUT.columns).encode() + b"\nb\xe9b\xe9.wav,1,0,dog\n")
    with pytest.raises(DataError, match=rf"^{path} is not UTF-8 text .*save it as CSV UTF-8"):
        table_of(path, "esc50")


def test_rows_are_file_lines_and_cells_are_tidied(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text(
        " " + ",".join(ESC50_LAYOUT.columns).replace(",", " , ") + "\n"
        "a.wav,1,0,dog,True,1,A\n"
        "\n"  # a blank line: skipped, but it still counts in the row numbers
        " b.wav , 2 ,0,dog ,True,2\n"  # padded cells; the take is missing
        "c.wav,3,1,cat,True,3,A,extra\n",
        encoding="utf-8",
    )
    rows = read_rows(path, ESC50_LAYOUT.columns)
    assert [n for n, _ in rows] == [2, 4, 5]
    assert rows[1][1]["take"] == "" and None not in rows[2][1]
    table = clip_table(path, rows, ESC50_LAYOUT, num_folds=5)
    assert table.files == ["a.wav", "b.wav", "c.wav"] and table.rows == [2, 4, 5]
    assert table.class_names == ["dog", "cat"] and table.folds.tolist() == [1, 2, 3]
    assert table.targets.dtype == np.int64 and table.describe(2) == "c.wav (meta.csv row 5)"


def test_the_data_fingerprint_follows_the_rows_used(esc_dir):
    """Same rows, same hash (a byte-order mark changes nothing); a relabelled clip changes it."""

    def fingerprint_of(root, fold=1):
        dm = ESC50DataModule(
            str(root), subset="esc10", num_classes=10, fold=fold, sample_rate=16000,
            clip_seconds=0.5, num_workers=0, batch_size=4, cache_dir=str(root.parent / "cache"),
        )  # fmt: skip
        dm.prepare_data()
        dm.setup()
        return dm.fingerprint()

    first = fingerprint_of(esc_dir)
    assert first["clips"] == 50 and first["csv"] == "esc50.csv" and len(first["sha256"]) == 64
    assert fingerprint_of(esc_dir, fold=3) == first  # one data set: every fold alike
    resave_with_bom(esc_dir / "meta" / "esc50.csv")
    assert fingerprint_of(esc_dir) == first
    header, rows = read_csv(esc_dir / "meta" / "esc50.csv")
    row = next(r for r in rows if r[header.index("esc10")] == "True")
    row[header.index("fold")] = "2" if row[header.index("fold")] != "2" else "3"
    write_csv(esc_dir / "meta" / "esc50.csv", header, rows)
    assert fingerprint_of(esc_dir)["sha256"] != first["sha256"]
