"""Loading the optional C accelerators, one rule for all of them.

Each accelerator (``codecs._g711_native``, ``codecs._resample_native``, ``sip._sip_native``,
``srtp._srtp_native``) is an optional build (setup.py): when it is missing, or older than its
source (its ``ABI`` number differs from the one its Python module expects), the pure path is
used. ``RVOIP_PURE=1`` in the environment, read once at import, switches every accelerator off.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

__all__ = ["import_native", "pure_requested"]


def pure_requested(*also: str) -> bool:
    """``RVOIP_PURE`` (or one of the variables ``also`` names) is set to anything but 0."""
    return any(os.environ.get(v, "") not in ("", "0") for v in ("RVOIP_PURE", *also))


def import_native(name: str, abi: int) -> ModuleType | None:
    """The built module ``name`` when its ``ABI`` equals ``abi``, else ``None`` (not built,
    or a stale build, which is logged)."""
    try:
        mod = importlib.import_module(name)
    except ImportError:
        return None
    if getattr(mod, "ABI", None) != abi:
        logging.getLogger(name.rpartition(".")[0]).warning(
            "ignoring a stale build of %s (rebuild: pip install -e .)", name)
        return None
    return mod
