"""Tests of ``cmpc workers`` (through cmpc.cli.main) and of worker_table / parse_z."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

import pytest

from cmpc import codes, costs
from cmpc.cli import main
from cmpc.commands.workers import ROW_KEYS, format_markdown, parse_z, worker_table
from cmpc.errors import ParameterError


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert main(["workers", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_rows_have_the_contract_keys_and_match_the_codes(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "--s", "2", "--t", "3", "--z", "1-5")
    assert {r["code"] for r in rows} == {"age", "polydot", "entangled", "ssmm"}
    assert len(rows) == 4 * 5
    for r in rows:
        assert set(ROW_KEYS) <= set(r)
        code = codes.make(r["code"], s=r["s"], t=r["t"], z=r["z"])
        assert (r["s"], r["t"]) == (2, 3)
        assert r["workers"] == code.n_workers
        assert r["degree_plus_one"] == code.degree_plus_one
        if r["code"] == "age":
            assert r["lambda"] == code.params["lambda"]
        else:
            assert r["lambda"] is None
        assert r["phase2_elements"] == costs.report(code, 1024).communication["phase2"]
    age4 = next(r for r in rows if r["code"] == "age" and r["z"] == 4)
    assert (age4["workers"], age4["lambda"]) == (38, 2)


def test_json_omits_codes_not_applicable(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "--s", "2", "--t", "2", "--z", "3", "--codes", "age,gasp,bgw,polynomial-sharing")
    assert [r["code"] for r in rows] == ["age"]
    rows = run_json(capsys, "--s", "1", "--t", "1", "--z", "1,2", "--codes", "bgw,gasp")
    assert [(r["code"], r["z"], r["workers"]) for r in rows] == [
        ("bgw", 1, 3), ("bgw", 2, 5), ("gasp", 1, 3), ("gasp", 2, 5)
    ]


def test_table_notes_skipped_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workers", "--s", "2", "--t", "2", "--z", "1-3", "--codes", "age,gasp"]) == 0
    out, err = capsys.readouterr()
    assert "note: skipped gasp" in err and "s = 1" in err
    lines = out.splitlines()
    assert lines[0].startswith("s = 2, t = 2")
    assert lines[1].split()[:5] == ["code", "z", "N", "deg+1", "λ"]
    assert lines[3].split()[:5] == ["age", "1", "14", "14", "1"]
    assert len(lines) == 3 + 3


def test_csv_output_parses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workers", "--z", "2", "--format", "csv", "--m", "64"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[: len(ROW_KEYS)] == list(ROW_KEYS)
    age = next(r for r in rows if r["code"] == "age")
    assert (age["workers"], age["lambda"], age["m"]) == ("17", "2", "64")
    assert next(r for r in rows if r["code"] == "ssmm")["lambda"] == ""


def test_all_codes_includes_search(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "--s", "1", "--t", "3", "--z", "3", "--codes", "all", "--search-seconds", "2")
    by = {r["code"]: r["workers"] for r in rows}
    assert set(by) == set(codes.available()) - {"bgw"}
    assert by["search"] == 22 <= by["gasp"] and by["age"] == 23
    assert next(r for r in rows if r["code"] == "search")["complete"] is True


@pytest.mark.parametrize(
    ("text", "values"),
    [("3", [3]), ("1-12", list(range(1, 13))), ("1,2,5", [1, 2, 5]), ("5,1-3,2", [1, 2, 3, 5])],
)
def test_parse_z(text: str, values: list[int]) -> None:
    assert parse_z(text) == values


@pytest.mark.parametrize("text", ["", "0", "3-1", "a", "1-", "-2", "1,,x"])
def test_parse_z_rejects(text: str) -> None:
    with pytest.raises(ParameterError):
        parse_z(text)


@pytest.mark.parametrize(
    "args",
    [
        ["--z", "0"],
        ["--z", "x"],
        ["--codes", "age,nope"],
        ["--s", "0"],
        ["--format", "xml"],
        ["--m", "-1"],
    ],
)
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["workers", *args])
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_worker_table_for_the_demo() -> None:
    rows = worker_table(2, 2, range(1, 13), ["age", "polydot", "entangled", "ssmm"], 1024)
    assert len(rows) == 48
    age = {r["z"]: r["workers"] for r in rows if r["code"] == "age"}
    assert age[2] == 17
    for code in ("polydot", "entangled", "ssmm"):
        other = {r["z"]: r["workers"] for r in rows if r["code"] == code}
        assert all(age[z] <= other[z] for z in age)
    assert worker_table(2, 2, [1], ["gasp"], 8) == []


def test_plot_writes_a_png(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "w.png"
    assert main(["workers", "--z", "1-4", "--plot", str(path), "--format", "json"]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().err


def test_plot_without_matplotlib_fails_clearly(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    path = tmp_path / "w.png"
    assert main(["workers", "--z", "1", "--plot", str(path)]) != 0
    assert "matplotlib" in capsys.readouterr().err
    assert not path.exists()


def test_markdown_pivot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workers", "--s", "2", "--t", "3", "--z", "4,5", "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[2] == "| z | age (λ) | polydot | entangled | ssmm |"
    assert lines[4] == "| 4 | 38 (2) | 43 | 41 | 39 |"
    assert lines[5].startswith("| 5 | 43 (1) |")


# -- numbers in docs/codes.md come from the commands -------------------------------------------------
DOCS = Path(__file__).resolve().parent.parent / "docs" / "codes.md"


def _doc_tables() -> list[tuple[int, int, list[str]]]:
    """(s, t, table lines) of every ``#### s = S, t = T`` table of N in docs/codes.md."""
    out = []
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    for k, line in enumerate(lines):
        m = re.fullmatch(r"#### s = (\d+), t = (\d+)", line.strip())
        if not m:
            continue
        j = k + 1
        while not lines[j].startswith("|"):
            j += 1
        table = []
        while j < len(lines) and lines[j].startswith("|"):
            table.append(lines[j])
            j += 1
        out.append((int(m.group(1)), int(m.group(2)), table))
    return out


def test_docs_has_tables() -> None:
    assert len(_doc_tables()) >= 9


@pytest.mark.parametrize("s,t,table", _doc_tables(), ids=lambda v: str(v)[:12])
def test_doc_tables_of_n_match_the_command(s: int, t: int, table: list[str]) -> None:
    head = [c.strip() for c in table[0].strip("|").split("|")]
    names = [h.replace(" (λ)", "") for h in head[1:]]
    zs = [int(row.strip("|").split("|")[0]) for row in table[2:]]
    rows = worker_table(s, t, zs, names)
    assert format_markdown(rows).strip().splitlines() == table


def test_doc_cost_example_matches_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    m = re.search(
        r"\(AGE, N = (\d+)\): phase 1 ([\d,]+) elements, phase 2 ([\d,]+), phase 3 ([\d,]+); ([\d,]+) "
        r"multiply-adds and ([\d,]+) elements of storage per worker \(`cmpc workers --s 2 --t 2 --z 2`\)\. "
        r"Entangled-CMPC needs N = (\d+) there: phase 2 ([\d,]+)\.",
        text,
    )
    assert m, "cost example not found in docs/codes.md"
    num = [int(g.replace(",", "")) for g in m.groups()]
    rows = {r["code"]: r for r in run_json(capsys, "--s", "2", "--t", "2", "--z", "2")}
    age, ent = rows["age"], rows["entangled"]
    assert num[:6] == [age["workers"], age["phase1_elements"], age["phase2_elements"], age["phase3_elements"],
                       age["per_worker_compute"], age["storage_per_worker"]]
    assert num[6:] == [ent["workers"], ent["phase2_elements"]]


def test_certified_workers_column(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "--s", "3", "--t", "3", "--z", "6-8", "--codes", "age,polydot", "--p", "65521")
    for r in rows:
        assert r["p"] == 65521
        if r["code"] == "age":
            assert r["certified_workers"] >= r["workers"] and r["certificate"] is not None
        if r["certified_workers"] is None:
            assert r["certificate"] is None
    age6 = next(r for r in rows if r["code"] == "age" and r["z"] == 6)
    assert (age6["workers"], age6["lambda"]) == (58, 3)
    assert age6["certified_workers"] == 59 and age6["certificate"] == "structural"
    poly7 = next(r for r in rows if r["code"] == "polydot" and r["z"] == 7)
    assert poly7["certified_workers"] is None  # non-consecutive secrets, too many subsets, bound too weak


@pytest.mark.parametrize("argv", [["--z", "1-100000"], ["--z", "1-400"], ["--z", "600"]])
def test_unbounded_requests_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(["workers", *argv])
    except SystemExit as exc:  # argparse refuses --z values beyond the bound itself
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert "bounded" in err or "narrow --z" in err


def test_worker_table_refuses_large_work() -> None:
    with pytest.raises(ParameterError, match="narrow --z"):
        worker_table(2, 2, list(range(1, 300)), ["age", "polydot", "entangled", "ssmm"])
