"""Helpers for the tests of the optional C accelerators (``RVOIP_PURE`` switches them off)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def probe(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter with ``env`` (``RVOIP_PURE`` unset unless given)
    and return what it printed."""
    full = {k: v for k, v in os.environ.items() if k != "RVOIP_PURE"} | env
    return subprocess.run([sys.executable, "-c", code], env=full, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
