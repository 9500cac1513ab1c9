"""Reference implementations the codec tests compare with (never imported by the library)."""

from __future__ import annotations

import ctypes
import ctypes.util
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.conftest import IN_CI


def _missing(msg: str) -> None:
    if IN_CI:
        pytest.fail(msg + "; CI must not skip reference-implementation tests")
    pytest.skip(msg)


def audioop() -> ModuleType:
    """CPython's ``audioop`` (removed in 3.13): the G.711 reference many users migrate from."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop as mod
        except ImportError:
            pytest.skip("audioop is gone from this Python (3.13+)")
    return mod


class SpanDSPG722:
    """libspandsp's G.722 through ctypes (Debian libspandsp-dev / libspandsp2)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        vp = ctypes.c_void_p
        lib.g722_encode_init.argtypes = [vp, ctypes.c_int, ctypes.c_int]
        lib.g722_encode_init.restype = vp
        lib.g722_decode_init.argtypes = [vp, ctypes.c_int, ctypes.c_int]
        lib.g722_decode_init.restype = vp
        lib.g722_encode.argtypes = [vp, vp, vp, ctypes.c_int]
        lib.g722_encode.restype = ctypes.c_int
        lib.g722_decode.argtypes = [vp, vp, vp, ctypes.c_int]
        lib.g722_decode.restype = ctypes.c_int
        lib.g722_encode_free.argtypes = [vp]
        lib.g722_decode_free.argtypes = [vp]

    def encoder(self, rate: int = 64000) -> Any:
        return self.lib.g722_encode_init(None, rate, 0)

    def decoder(self, rate: int = 64000) -> Any:
        return self.lib.g722_decode_init(None, rate, 0)

    def encode(self, state: Any, pcm: np.ndarray) -> bytes:
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        out = ctypes.create_string_buffer(len(pcm))
        n = self.lib.g722_encode(state, out, pcm.ctypes.data, len(pcm))
        return out.raw[:n]

    def decode(self, state: Any, codes: bytes) -> np.ndarray:
        out = np.zeros(2 * len(codes), np.int16)
        n = self.lib.g722_decode(state, out.ctypes.data, codes, len(codes))
        return out[:n].copy()


def spandsp_g722() -> SpanDSPG722:
    for name in ("libspandsp.so", "libspandsp.so.2", ctypes.util.find_library("spandsp")):
        if not name:
            continue
        try:
            return SpanDSPG722(ctypes.CDLL(name))
        except OSError:
            continue
    _missing("libspandsp is not installed (Debian: libspandsp-dev)")
    raise AssertionError("unreachable")


def g722_package() -> Any:
    """The PyPI ``G722`` package (module ``G722``), a C implementation of the reference."""
    try:
        import G722
    except ImportError:
        _missing("the PyPI package G722 is not installed")
    return G722
