"""The examples in the package docstring run as written."""

from __future__ import annotations

import doctest

import rvoip_sansio.codecs


def test_package_docstring_examples() -> None:
    result = doctest.testmod(rvoip_sansio.codecs, verbose=False)
    assert result.attempted >= 3 and result.failed == 0


def test_docs_first_example_runs() -> None:
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "codecs.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    env: dict[str, object] = {}
    exec(compile(block, "docs/codecs.md", "exec"), env)  # noqa: S102 - our own documentation
    assert env["g722"].info.rtpmap == "G722/8000"  # type: ignore[attr-defined]
    assert len(env["narrow"]) == 160  # type: ignore[arg-type]
