"""Helpers for the tests of the optional C accelerators (``RVOIP_PURE`` switches them off)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import ModuleType

from tests.conftest import ROOT


def probe(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter with ``env`` (``RVOIP_PURE`` unset unless given)
    and return what it printed."""
    full = {k: v for k, v in os.environ.items() if k != "RVOIP_PURE"} | env
    return subprocess.run([sys.executable, "-c", code], env=full, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def plc_native() -> ModuleType:
    """The built concealment accelerator (skip locally / fail under CI when not built; fail
    when the build is stale)."""
    import pytest

    from rvoip_sansio.codecs import _plc
    from tests.conftest import require_module

    require_module("rvoip_sansio.codecs._plc_native")
    mod = _plc.load_native()
    if mod is None:
        pytest.fail("rvoip_sansio.codecs._plc_native is a stale build: pip install -e .")
    return mod
