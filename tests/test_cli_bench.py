"""`cmpc bench`: one simulated run next to one exact matmul."""

from __future__ import annotations

import json

from cmpc.cli import main


def test_bench_json(capsys):
    assert main(["bench", "--code", "age", "--s", "2", "--t", "2", "--z", "2", "--m", "32",
                 "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["correct"] is True and row["workers"] == 17
    assert set(row["bytes"]) == {"phase1", "phase2", "phase3"}
    assert row["elements"]["phase2"] == (4 + 2) * 16 * 16 * 16  # t^2 + z reporters, N - 1 senders each


def test_bench_table_and_bad_code(capsys):
    assert main(["bench", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "16"]) == 0
    out = capsys.readouterr().out
    assert "correct=True" in out and "phase2" in out
    assert main(["bench", "--code", "nope", "--m", "8"]) == 2
    assert "unknown" in capsys.readouterr().err.lower()
