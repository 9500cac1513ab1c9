"""Comfort noise payload (RFC 3389 §3): the noise level and optional spectral information.

The jitter buffer flags CN packets (payload type 13) and the silence after them with
``FrameFlags.COMFORT_NOISE``; a codec layer turns this description into noise samples.
"""

from __future__ import annotations

import attrs

from .._core import ParseError

__all__ = ["ComfortNoise"]


@attrs.frozen(kw_only=True)
class ComfortNoise:
    """``level``: noise level in -dBov (0..127, RFC 3389 §3.1); ``coefficients``: the
    quantised reflection coefficients, one octet each (§3.2; empty = white noise)."""

    level: int
    coefficients: bytes = b""

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.level <= 127:
            raise ValueError("noise level is 0..127 -dBov")

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> ComfortNoise:
        if not data:
            raise ParseError("empty comfort-noise payload", 0)
        if data[0] > 127:
            # §3.1: the level's most significant bit is zero.
            raise ParseError(f"noise level octet {data[0]} has its top bit set", 0)
        return cls(level=data[0], coefficients=bytes(data[1:]))

    def __bytes__(self) -> bytes:
        return bytes((self.level,)) + self.coefficients

    @property
    def dbov(self) -> int:
        """The level in dBov (negative)."""
        return -self.level
