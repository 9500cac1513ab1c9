"""Both parser paths: the optional C accelerator (``native``) and the pure Python one.

Test modules that parse messages use the module-scoped ``sip_path`` fixture (``pytestmark =
pytest.mark.usefixtures("sip_path")``) and so run twice. ``pure`` switches the accelerator
off (every call then goes to the pure code); ``native`` needs it built: skipped locally when it
is not, a failure under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from rvoip_sansio.sip import _parser
from tests.conftest import require_module

PATHS = ["native", "pure"]


def native_module() -> Any:
    """The loaded accelerator (skip locally / fail under CI when it is not built)."""
    if _parser.NATIVE is None and os.environ.get("RVOIP_PURE", "") not in ("", "0"):
        pytest.skip("RVOIP_PURE is set: the accelerator is not loaded")
    require_module("rvoip_sansio.sip._sip_native")
    if _parser.NATIVE is None:
        pytest.fail("rvoip_sansio.sip._sip_native is a stale build: pip install -e .")
    return _parser.NATIVE


@pytest.fixture(scope="module", params=PATHS)
def sip_path(request: pytest.FixtureRequest) -> Iterator[str]:
    native = _parser.NATIVE
    if request.param == "native":
        native_module()
    if native is not None:
        native.set_enabled(request.param == "native")
    try:
        yield request.param
    finally:
        if native is not None:
            native.set_enabled(True)
