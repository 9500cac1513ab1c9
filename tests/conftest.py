"""Shared test helpers: real peers are required under CI and skipped (with a reason) elsewhere."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI does: no BLAS spin threads

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED_VECTORS = ROOT.parent / "shared" / "vectors"

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_program(name: str) -> str:
    """Path of a peer program; skip when missing locally, fail when missing under CI=true."""
    path = shutil.which(name)
    if path is None:
        msg = f"peer program {name!r} is not installed (Debian: see scripts/setup)"
        if IN_CI:
            pytest.fail(msg + "; CI must not skip interop tests")
        pytest.skip(msg)
    return path


def require_module(name: str) -> object:
    """Import an optional Python peer; skip locally, fail under CI=true."""
    try:
        return __import__(name)
    except ImportError as exc:
        msg = f"Python peer {name!r} is not importable ({exc})"
        if IN_CI:
            pytest.fail(msg + "; CI must not skip interop tests")
        pytest.skip(msg)
