"""The examples in docs/srtp.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "srtp.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index: int) -> None:
    if "Dtls" in BLOCKS[index]:
        pytest.importorskip("OpenSSL")
    exec(compile(BLOCKS[index], f"docs/srtp.md block {index}", "exec"), {})
