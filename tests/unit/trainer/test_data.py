"""Reading the Kaggle CSV: header checks, skipped rows with reasons, labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraudstream.events import CSV_COLUMNS
from fraudstream.trainer.data import RAW_COLUMNS, parse_label, read_csv
from fraudstream.trainer.errors import InputSchemaError, TrainerError


def test_round_trip_values_and_labels(csv_file, dataset) -> None:
    ds = dataset(300)
    got = read_csv(csv_file(ds))
    assert len(got) == 300
    np.testing.assert_allclose(got.raw[:, 1:], ds.raw[:, 1:])  # V1..V28, Amount
    np.testing.assert_array_equal(got.label, ds.label)
    assert got.lineage["source"] == "csv"
    assert len(got.lineage["sha256"]) == 64
    assert not got.skipped


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    good = ["0.0", *["0.5"] * 28, "10.0", '"0"']
    rows = [
        good,
        ["1.0", *["nan"] + ["0.5"] * 27, "10.0", '"0"'],
        ["2.0", *["inf"] + ["0.5"] * 27, "10.0", "1"],
        ["3.0", *[""] + ["0.5"] * 27, "10.0", "0"],
        ["4.0", *["abc"] + ["0.5"] * 27, "10.0", "0"],
        ["5.0", *["0.5"] * 28, "10.0", "7"],
        ["6.0", *["0.5"] * 28, "-3.0", "0"],
        ["7.0", "0.5"],
        ["8.0", *["0.5"] * 28, "10.0", ""],
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(",".join(r) for r in [list(CSV_COLUMNS), *rows]) + "\n")
    ds = read_csv(path)
    assert len(ds) == 2
    assert ds.label.tolist() == [0, -1]
    assert dict(ds.skipped) == {
        "non_finite": 2,
        "missing_value": 1,
        "not_a_number": 1,
        "invalid_label": 1,
        "negative_amount": 1,
        "wrong_column_count": 1,
    }
    assert "skipped: invalid_label=1" in ds.summary()


def test_header_missing_fields_are_named(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Time,V1,V2,Amount\n1,2,3,4\n")
    with pytest.raises(InputSchemaError, match=r"lacks fields: V3, V4, .*V28, Class"):
        read_csv(path)


def test_header_is_case_insensitive_and_extra_columns_ignored(tmp_path: Path) -> None:
    cols = ["", *(c.upper() for c in CSV_COLUMNS)]
    row = ["17", "100", *[str(i / 10) for i in range(28)], "5.5", "1"]
    path = tmp_path / "x.csv"
    path.write_text(",".join(cols) + "\n" + ",".join(row) + "\n")
    ds = read_csv(path)
    assert ds.label.tolist() == [1]
    assert ds.raw[0, RAW_COLUMNS.index("Time")] == 100.0
    assert ds.raw[0, RAW_COLUMNS.index("Amount")] == 5.5


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputSchemaError, match="empty"):
        read_csv(tmp_path / "empty.csv")


def test_max_records(csv_file) -> None:
    assert len(read_csv(csv_file(), max_records=25)) == 25


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1, 1),
        ("1", 1),
        ('"0"', 0),
        (1.0, 1),
        (-1, -1),
        (None, -1),
        ("", -1),
        (2, None),
        ("x", None),
    ],
)
def test_parse_label(value: object, expected: int | None) -> None:
    assert parse_label(value) == expected
