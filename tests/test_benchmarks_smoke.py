"""The benchmark suite's code paths at a tiny size: every figure is produced and
its numbers are sane. No timing goal is checked here (``make bench`` measures).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import docsize, memory, report
from slotwork_local import emulator as emulator_mod

SECTIONS = (
    "## Goals",
    "## Overhead: slotwork against the floor",
    "## Memory: peak RSS of a tick",
    "## Firestore operations and cost",
    "## Registration throughput",
    "## Resume across continuations",
    "## Items in flight, shards and rate limits",
    "## Testing workers",
    "## Profile of the hottest path",
)


def _ratios(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\*\*(\d+\.\d+)x\*\*", text)]


@pytest.mark.slow
def test_suite_runs_end_to_end_at_a_tiny_size(
    emulator: emulator_mod.Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "results.md"
    code = bench_main.main(
        [
            "--sizes", "20,60",
            "--repeat", "1",
            "--registration-items", "30",
            "--single-items", "3",
            "--budget-minutes", "0",
            "--profile",
            "--profile-dir", str(tmp_path),
            "--profile-html", str(tmp_path / "profile.html"),
            "--host", emulator.host,
            "--in-tick-items", "64",
            "--shard-items", "40",
            "--rate-items", "40",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    text = out.read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    assert "| 20 |" in text and "| 60 |" in text
    ratios = _ratios(text)
    assert len(ratios) == 2
    assert all(0.05 < r < 50 for r in ratios), ratios
    # Operations are counted, not timed: exact figures hold at any size.
    assert "| slotwork idle tick | 0 | done | BatchGetDocuments 1 | 1 | 0 |" in text
    assert "| idle tick: exactly 1 read and 0 writes |" in text
    ops_goals = [line for line in text.splitlines() if "per processed item amortised" in line]
    assert ops_goals and ops_goals[0].count("| met |") == 1
    assert "| 60 | " in text.split("## Resume across continuations")[1]
    assert "4 shards x 16 over HTTP" in text and "rate limit 200/s over 4 shards" in text
    assert (tmp_path / "profile.txt").read_text().startswith("# pyinstrument profile")
    assert (tmp_path / "profile.html").exists()
    assert "nan" not in text.lower().replace("n/a", "")


def test_document_size_follows_firestore_rules() -> None:
    # "users/jeff/tasks/my_task_id": 6+5+6+11 + 16 = 44 bytes (Firestore's documented example).
    assert docsize.name_size("users/jeff/tasks/my_task_id") == 44
    # The documented task example: name 44 + fields 101 + 32 = 145... fields as documented:
    fields = {
        "type": "Personal",
        "done": False,
        "priority": 1,
        "description": "Learn Cloud Firestore",
    }
    assert docsize.value_size(fields) == 5 + 9 + 5 + 1 + 9 + 8 + 12 + 22
    assert docsize.document_size("users/jeff/tasks/my_task_id", fields) == 44 + 71 + 32


def test_memory_bound_rule() -> None:
    assert memory.bounded(20.0, 24.0)
    assert memory.bounded(2.0, 9.0)
    assert not memory.bounded(20.0, 200.0)


def test_number_formatting() -> None:
    assert report.fmt(math.nan) == "n/a"
    assert report.fmt(1.234) == "1.23"
    assert report.fmt(12345.6) == "12,346"
    assert report.fmt_int(1234.4) == "1,234"
