"""``audioop``-style G.711 on bytes: ``ulaw2lin``, ``lin2ulaw``, ``alaw2lin``, ``lin2alaw``.

Drop-in replacements for the four ``audioop`` functions that Python 3.13 removed, for code
that keeps its audio in ``bytes`` of native-order samples of ``width`` octets (1, 2, 3 or 4).
They take and return the same bytes as ``audioop`` with one documented exception: μ-law
*encoding* follows ITU-T G.711 as implemented by G.191's ``g711.c`` (the reference), which
differs from ``audioop`` at 508 negative 16-bit inputs, one quantisation step each;
``lin2ulaw(..., rounding="audioop")`` reproduces ``audioop``'s bytes exactly for migrations
that compare with stored output. Errors are :class:`CodecError` (a ``ValueError``) where
``audioop`` raised ``audioop.error``.

Samples wider than 16 bits are reduced to their top 16 bits (an arithmetic shift, as
``audioop`` does) before encoding; decoded 16-bit samples are widened by shifting left, and
narrowed to 1 octet by keeping the top octet.

Speed (bench/bench_codecs.py): decoding a 20 ms frame is two ``bytes.translate`` calls
(low and high octet of each sample) woven together by two strided slice assignments, about
0.8 µs, because any numpy call costs more than that for 160 samples; long fragments use the
two-codes-per-lookup numpy table. With the optional C extension built (see ``_g711``) the
four public names are its functions: width 2 from ``bytes``/``bytearray`` in C, everything
else (other widths, ``rounding=``, other buffers, errors) through the pure functions here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from rvoip_sansio.codecs._base import CodecError
from rvoip_sansio.codecs._g711 import (
    ALAW_DECODE_TABLE,
    ALAW_ENCODE_TABLE,
    ALAW_PAIR_TABLE,
    NATIVE,
    ULAW_DECODE_TABLE,
    ULAW_ENCODE_TABLE,
    ULAW_ENCODE_TABLE_AUDIOOP,
    ULAW_PAIR_TABLE,
)

__all__ = ["ulaw2lin", "lin2ulaw", "alaw2lin", "lin2alaw"]

Fragment = bytes | bytearray | memoryview

_I16 = np.dtype(np.int16)
_U2 = np.dtype("<u2")
_LITTLE = bool(np.little_endian)
# From this many codes on the numpy pair table beats two translates (measured: 320-480).
_NUMPY_FROM = 400
# The top 16 bits of a native-order 24-bit sample.
_TOP = slice(1, 3) if _LITTLE else slice(0, 2)


def _octet_tables(dec: npt.NDArray[np.int16]) -> tuple[bytes, bytes]:
    """``bytes.translate`` tables giving the first and second octet of each decoded sample."""
    raw = dec.astype(_I16).tobytes()  # native order, two octets per code
    return raw[0::2], raw[1::2]


_ULAW_OCTETS = _octet_tables(ULAW_DECODE_TABLE)
_ALAW_OCTETS = _octet_tables(ALAW_DECODE_TABLE)


def _check(fragment: Fragment, width: int) -> None:
    if width not in (1, 2, 3, 4):
        raise CodecError("width must be 1, 2, 3 or 4")
    if len(fragment) % width:
        raise CodecError("fragment is not a whole number of samples of this width")


def _decode(
    fragment: Fragment,
    width: int,
    octets: tuple[bytes, bytes],
    pairs: npt.NDArray[np.uint32],
    table: npt.NDArray[np.int16],
) -> bytes:
    if width not in (1, 2, 3, 4):
        raise CodecError("width must be 1, 2, 3 or 4")
    n = len(fragment)
    if width == 2 and n < _NUMPY_FROM:
        if fragment.__class__ is not bytes:
            fragment = bytes(fragment)
        out = bytearray(n + n)
        out[0::2] = fragment.translate(octets[0])
        out[1::2] = fragment.translate(octets[1])
        return bytes(out)
    codes = np.frombuffer(fragment, np.uint8)
    if width == 2:
        if n % 2 == 0:
            return pairs.take(codes.view(_U2), None, None, "clip").tobytes()
        return table.take(codes, None, None, "clip").tobytes()
    x = table.take(codes, None, None, "clip")
    if width == 1:
        return (x >> 8).astype(np.int8).tobytes()
    if width == 4:
        return (x.astype(np.int32) << 16).tobytes()
    # 24-bit: the 16-bit sample becomes the top two octets; the low octet is zero.
    wide = np.zeros((n, 3), np.uint8)
    wide[:, _TOP] = x.view(np.uint8).reshape(n, 2)
    return wide.tobytes()


def _to16(fragment: Fragment, width: int) -> npt.NDArray[np.int16]:
    """The top 16 bits of each native-order sample (arithmetic shift, as audioop)."""
    _check(fragment, width)
    if width == 2:
        return np.frombuffer(fragment, _I16)
    if width == 1:
        return np.frombuffer(fragment, np.int8).astype(_I16) << 8
    if width == 4:
        return (np.frombuffer(fragment, np.int32) >> 16).astype(_I16)
    octets = np.frombuffer(fragment, np.uint8).reshape(-1, 3)
    top = octets[:, _TOP]
    return np.ascontiguousarray(top).view(_I16).reshape(-1)


def _decoder(
    name: str, octets: tuple[bytes, bytes], pairs: npt.NDArray[np.uint32],
    table: npt.NDArray[np.int16],
) -> Callable[[Fragment, int], bytes]:
    first, second = octets

    def decode(fragment: Fragment, width: int) -> bytes:
        n = len(fragment)
        if width == 2 and n < _NUMPY_FROM and fragment.__class__ is bytes:
            # The 20 ms frame case, inlined: one more Python call is a fair part of its cost.
            out = bytearray(n + n)
            out[0::2] = fragment.translate(first)
            out[1::2] = fragment.translate(second)
            return bytes(out)
        return _decode(fragment, width, octets, pairs, table)

    law = "μ" if name.startswith("u") else "A"
    decode.__name__ = decode.__qualname__ = name
    decode.__doc__ = (f"{law}-law codes to linear samples of ``width`` octets; the same bytes "
                      f"as ``audioop.{name}``.")
    return decode


ulaw2lin = _decoder("ulaw2lin", _ULAW_OCTETS, ULAW_PAIR_TABLE, ULAW_DECODE_TABLE)
alaw2lin = _decoder("alaw2lin", _ALAW_OCTETS, ALAW_PAIR_TABLE, ALAW_DECODE_TABLE)


def lin2ulaw(
    fragment: Fragment, width: int, *, rounding: Literal["g191", "audioop"] = "g191"
) -> bytes:
    """Linear samples to μ-law codes (G.711 per G.191).

    ``rounding="audioop"`` gives ``audioop.lin2ulaw``'s codes instead, which differ from
    G.711 at 508 negative inputs (one step each, see docs/codecs.md).
    """
    if rounding == "g191":
        table = ULAW_ENCODE_TABLE
    elif rounding == "audioop":
        table = ULAW_ENCODE_TABLE_AUDIOOP
    else:
        raise CodecError('rounding must be "g191" or "audioop"')
    # Negative samples index the top half of the 65,536-entry table through "wrap".
    return table.take(_to16(fragment, width), None, None, "wrap").tobytes()


def lin2alaw(fragment: Fragment, width: int) -> bytes:
    """Linear samples to A-law codes (G.711 per G.191; identical to ``audioop.lin2alaw``)."""
    return ALAW_ENCODE_TABLE.take(_to16(fragment, width), None, None, "wrap").tobytes()


#: The pure functions, whichever path the public names take (the tests run both).
PURE: dict[str, Callable[..., Any]] = {
    "ulaw2lin": ulaw2lin, "alaw2lin": alaw2lin, "lin2ulaw": lin2ulaw, "lin2alaw": lin2alaw,
}

if NATIVE is not None:
    NATIVE._set_fallbacks(PURE)
    if not TYPE_CHECKING:  # same signatures and results; type checkers see the pure ones
        globals().update((name, getattr(NATIVE, name)) for name in PURE)
