"""Reference implementations used only by the tests: libspandsp through ctypes.

spandsp (Steve Underwood, LGPL, Debian ``libspandsp-dev``) ships a DTMF generator and
receiver at 8 kHz; our generator and detector are checked against them.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import IN_CI


def load_spandsp() -> ctypes.CDLL:
    name = ctypes.util.find_library("spandsp") or "libspandsp.so.2"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        msg = f"libspandsp is not installed ({exc}); Debian: libspandsp-dev"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    lib.dtmf_rx_init.restype = ctypes.c_void_p
    lib.dtmf_rx_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.dtmf_rx.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int]
    lib.dtmf_rx_get.restype = ctypes.c_size_t
    lib.dtmf_rx_get.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_rx_free.argtypes = [ctypes.c_void_p]
    lib.dtmf_tx_init.restype = ctypes.c_void_p
    lib.dtmf_tx_init.argtypes = [ctypes.c_void_p]
    lib.dtmf_tx_put.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_tx_set_level.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.dtmf_tx_set_timing.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.dtmf_tx.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int]
    lib.dtmf_tx_free.argtypes = [ctypes.c_void_p]
    return lib


def spandsp_detect(lib: ctypes.CDLL, pcm: npt.NDArray[np.int16]) -> str:
    """Digits spandsp's receiver finds in 8 kHz ``pcm`` (fed in 160-sample frames)."""
    st = lib.dtmf_rx_init(None, None, None)
    x = np.ascontiguousarray(np.concatenate([pcm, np.zeros(800, np.int16)]))
    out = []
    for i in range(0, len(x), 160):
        chunk = np.ascontiguousarray(x[i : i + 160])
        lib.dtmf_rx(st, chunk.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(chunk))
        buf = ctypes.create_string_buffer(128)
        n = lib.dtmf_rx_get(st, buf, 127)
        out.append(buf.raw[:n].decode())
    lib.dtmf_rx_free(st)
    return "".join(out)


def spandsp_generate(
    lib: ctypes.CDLL, digits: str, *, level: int = -10, twist: int = 0, on_ms: int = 50, off_ms: int = 55
) -> npt.NDArray[np.int16]:
    """spandsp's DTMF generator at 8 kHz (``level`` dBm0 of the low tone, ``twist`` dB)."""
    st = lib.dtmf_tx_init(None)
    lib.dtmf_tx_set_level(st, level, twist)
    lib.dtmf_tx_set_timing(st, on_ms, off_ms)
    lib.dtmf_tx_put(st, digits.encode(), len(digits))
    chunks = []
    while True:
        buf = np.zeros(160, np.int16)
        n = lib.dtmf_tx(st, buf.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), 160)
        if n <= 0:
            break
        chunks.append(buf[:n].copy())
    lib.dtmf_tx_free(st)
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
