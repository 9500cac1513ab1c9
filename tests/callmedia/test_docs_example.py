"""The first example of docs/callmedia.md runs as written and prints what it claims."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT


def test_docs_example(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs" / "callmedia.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    exec(compile(block, "docs/callmedia.md", "exec"), {"__name__": "docs"})
    accepted, heard, drained, good = capsys.readouterr().out.split()
    assert accepted == "32000"
    assert int(heard) > 90           # 2 s greeting = 100 frames, minus the ~2 % lost
    assert drained == good == "True"
