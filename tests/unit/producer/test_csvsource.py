"""The CSV loader: good rows become contract events; bad rows are skipped, counted and listed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fraudstream.events import CSV_COLUMNS, RAW_FIELDS, RawCardEvent
from fraudstream.producer.csvsource import CsvReport, read_csv_events
from fraudstream.producer.errors import BadRowError, CsvFormatError
from fraudstream.producer.users import make_users, user_index

SAMPLE = (
    Path(__file__).resolve().parents[3].parent
    / "shared/data/creditcard/creditcard_sample_bhavyasoni01.csv"
)
HEADER = ",".join(CSV_COLUMNS)


def _row(time: str = "10", amount: str = "12.5", cls: str = '"0"', v: str = "0.5") -> str:
    return ",".join([time, *([v] * 28), amount, cls])


def _write(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    p = tmp_path / "cc.csv"
    p.write_text("\n".join([header, *lines]) + "\n")
    return p


def test_good_rows_become_contract_events(tmp_path: Path) -> None:
    p = _write(tmp_path, [_row("0", cls='"0"'), _row("91554.0", cls="1"), _row("5", cls="")])
    users = make_users(50, seed=1)
    events = list(read_csv_events(p, start="2013-09-01T00:00:00Z", users=users))
    assert [e["Id"] for e in events] == [0, 1, 2]
    assert [e["Class"] for e in events] == [0, 1, None]
    assert [e["Time"] for e in events] == [0, 91554, 5]
    assert events[1]["Timestamp"] == "2013-09-02T01:25:54Z"
    assert all(tuple(e) == RAW_FIELDS for e in events)
    ids = [u["userid"] for u in users]
    assert [e["User"] for e in events] == [ids[user_index(i, 50)] for i in range(3)]
    for e in events:
        RawCardEvent(**e)  # the shared model accepts every event


def test_bad_rows_are_skipped_counted_listed_and_rejected(tmp_path: Path) -> None:
    lines = [
        _row(),  # line 2 ok
        _row()[: -len(',"0"')],  # line 3: 30 columns
        _row(v="abc"),  # line 4: not a number
        _row(v="NaN"),  # line 5
        _row(amount="-1"),  # line 6
        _row(cls="2"),  # line 7
        _row(time="1.5"),  # line 8
        _row(v="inf"),  # line 9
        _row(),  # line 10 ok
    ]
    p = _write(tmp_path, lines)
    rej = tmp_path / "rejects.csv"
    report = CsvReport()
    events = list(read_csv_events(p, users=10, rejects=rej, report=report))
    assert [e["Id"] for e in events] == [0, 8]  # Ids keep the data-row numbers
    assert (report.rows, report.good, report.bad) == (9, 2, 7)
    assert [ln for ln, _ in report.first_bad] == [3, 4, 5, 6, 7, 8, 9]
    reasons = dict(report.first_bad)
    assert "expected 31 columns, got 30" in reasons[3]
    assert "V1: not a number" in reasons[4]
    assert "V1: not a finite number" in reasons[5]
    assert "Amount: negative" in reasons[6]
    assert "Class" in reasons[7]
    assert "Time" in reasons[8]
    summary = report.summary()
    assert "9 rows, 2 good, 7 bad" in summary and "line 3:" in summary
    with rej.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["line", "reason", "row"]
    assert [int(r[0]) for r in rows[1:]] == [3, 4, 5, 6, 7, 8, 9]
    assert rows[2][2].split(",")[1] == "abc"


def test_only_the_first_ten_bad_lines_are_listed(tmp_path: Path) -> None:
    p = _write(tmp_path, [_row(v="x")] * 25 + [_row()])
    report = CsvReport()
    assert len(list(read_csv_events(p, users=5, report=report))) == 1
    assert report.bad == 25
    assert [ln for ln, _ in report.first_bad] == list(range(2, 12))


def test_no_rejects_file_when_all_rows_are_good(tmp_path: Path) -> None:
    p = _write(tmp_path, [_row()])
    rej = tmp_path / "rejects.csv"
    assert len(list(read_csv_events(p, users=5, rejects=rej))) == 1
    assert not rej.exists()


def test_strict_stops_at_the_first_bad_row_with_its_line(tmp_path: Path) -> None:
    p = _write(tmp_path, [_row(), _row(), _row(v="1e999"), _row(v="x")])
    it = read_csv_events(p, users=5, strict=True)
    assert next(it)["Id"] == 0
    assert next(it)["Id"] == 1
    with pytest.raises(BadRowError, match="line 4: V1: not a finite number") as exc:
        next(it)
    assert exc.value.line == 4


def test_missing_file_and_wrong_header_fail_at_once(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="no such file"):
        read_csv_events(tmp_path / "absent.csv")
    wrong = _write(tmp_path, [_row()], header=HEADER.replace("V7", "V77"))
    with pytest.raises(CsvFormatError, match="wrong header"):
        read_csv_events(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CsvFormatError, match="empty file"):
        read_csv_events(empty)


def test_quoted_header_and_pandas_index_column_are_accepted(tmp_path: Path) -> None:
    quoted = ",".join(f'"{c}"' for c in CSV_COLUMNS)
    p = _write(tmp_path, [_row()], header=quoted)
    assert len(list(read_csv_events(p, users=3))) == 1
    indexed = tmp_path / "indexed.csv"
    indexed.write_text("," + HEADER + "\n0," + _row("7") + "\n")
    (e,) = list(read_csv_events(indexed, users=3))
    assert e["Time"] == 7 and e["V1"] == 0.5


def test_offsets_shift_ids_and_time(tmp_path: Path) -> None:
    p = _write(tmp_path, [_row("0"), _row("10")])
    events = list(read_csv_events(p, users=3, id_offset=100, time_offset=86_400))
    assert [e["Id"] for e in events] == [100, 101]
    assert [e["Time"] for e in events] == [86_400, 86_410]
    assert events[0]["Timestamp"] == "2013-09-02T00:00:00Z"


@pytest.mark.skipif(not SAMPLE.is_file(), reason="real sample not shipped in this checkout")
def test_real_sample_loads_completely() -> None:
    report = CsvReport()
    events = list(read_csv_events(SAMPLE, users=1000, report=report))
    assert (report.rows, report.good, report.bad) == (5412, 5412, 0)
    assert sum(e["Class"] for e in events) == 492
    assert events[0]["Time"] == 91554 and events[0]["Amount"] == 261.22
    assert min(e["Time"] for e in events) == 23 and max(e["Time"] for e in events) == 172_703
    for e in events[:500]:
        RawCardEvent(**e)


def test_undecodable_bytes_and_oversized_fields_are_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "cc.csv"
    bad_bytes = _row(v="0.5").replace("0.5", "0.\xff5", 1).encode("latin-1")
    huge = _row(v="1" * 200_000).encode()  # over csv.field_size_limit (131,072)
    p.write_bytes(
        HEADER.encode() + b"\n" + _row().encode() + b"\n" + bad_bytes + b"\n" + huge + b"\n"
        + _row().encode() + b"\n"
    )  # fmt: skip
    report = CsvReport()
    events = list(read_csv_events(p, users=5, report=report))
    assert [e["Id"] for e in events] == [0, 3]
    assert report.bad == 2
    assert [ln for ln, _ in report.first_bad] == [3, 4]
    assert "V1: not a number" in report.first_bad[0][1]
    assert "CSV syntax error" in report.first_bad[1][1]


def test_utf8_bom_before_the_header_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_text("\ufeff" + HEADER + "\n" + _row() + "\n", encoding="utf-8")
    assert len(list(read_csv_events(p, users=3))) == 1
