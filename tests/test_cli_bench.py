"""`cmpc bench`: one simulated run next to one exact matmul."""

from __future__ import annotations

import json

from cmpc.cli import main


def test_bench_json(capsys):
    # --allocator default: the retained heap of the default is process-wide (cmpc.allocator has its own
    # test, in a child process); the test session keeps glibc's defaults
    assert main(["bench", "--code", "age", "--s", "2", "--t", "2", "--z", "2", "--m", "32",
                 "--allocator", "default", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["correct"] is True and row["workers"] == 17 and row["allocator"] == "default"
    assert set(row["bytes"]) == {"phase1", "phase2", "phase3"}
    assert row["elements"]["phase2"] == (4 + 2) * 16 * 16 * 16  # t^2 + z reporters, N - 1 senders each


def test_bench_table_and_bad_code(capsys):
    assert main(["bench", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "16",
                 "--allocator", "default"]) == 0
    out = capsys.readouterr().out
    assert "correct=True" in out and "phase2" in out and "allocator: default" in out
    assert main(["bench", "--code", "nope", "--m", "8"]) == 2
    assert "unknown" in capsys.readouterr().err.lower()


def test_bench_json_is_like_for_like(capsys):
    assert main(["bench", "--code", "age", "--s", "2", "--t", "2", "--z", "2", "--m", "32",
                 "--threads", "1", "--repeat", "2", "--allocator", "default", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["blas_threads"] in (1, None) and row["repeat"] == 2
    assert row["matmul_s"] > 0 and row["compute_total_s"] > 0
    assert abs(row["compute_ratio"] - row["compute_total_s"] / row["matmul_s"]) < 1e-9
    assert abs(sum(row["compute_s"].values()) - row["compute_total_s"]) < 1e-9


def test_cached_decoding_rows_equal_fresh_and_read_only():
    import numpy as np
    import pytest

    from cmpc import PrimeField, RandomSource, codes
    from cmpc.protocol import Session
    from cmpc.protocol.roles import cached_decoding_rows
    from cmpc.protocol.session import decoding_rows

    field = PrimeField(2**31 - 1)
    code = codes.make("age", s=2, t=2, z=2)
    sess = Session.create(code, field, (8, 8), (8, 8), None, RandomSource(seed=4))
    chosen = list(range(sess.n_needed))
    rows = cached_decoding_rows(field, sess, chosen)
    assert np.array_equal(rows, decoding_rows(field, sess, chosen))
    assert cached_decoding_rows(field, sess, chosen) is rows  # computed once
    with pytest.raises(ValueError):
        rows[0, 0] = 1
    other = Session.create(code, field, (8, 8), (8, 8), None, RandomSource(seed=5))  # other points
    assert np.array_equal(cached_decoding_rows(field, other, chosen), decoding_rows(field, other, chosen))
