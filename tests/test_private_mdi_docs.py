"""The end-to-end example of docs/private-mdi.md runs as written (the doc cannot go stale)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "private-mdi.md"


def doc_block(heading: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, f"no python block after {heading!r}"
    return match.group(1)


@pytest.mark.slow
def test_end_to_end_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = doc_block("## The end-to-end run")
    assert "PrivateInference" in code and "reference" in code
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    assert "privateMDI: p = " in capsys.readouterr().out


@pytest.mark.slow
def test_inference_docstring_example() -> None:
    import doctest

    import private_mdi.inference

    result = doctest.testmod(private_mdi.inference, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
