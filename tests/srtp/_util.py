"""Helpers shared by the SRTP tests."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "srtp"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def rtp(seq: int, ssrc: int = 0x12345678, payload: bytes | None = None, ts: int | None = None,
        marker: bool = False, pt: int = 0) -> bytes:
    """An RTP packet (RFC 3550 §5.1) with no CSRC or extension."""
    body = bytes([seq & 0xFF]) * 160 if payload is None else payload
    ts = (seq * 160) & 0xFFFFFFFF if ts is None else ts
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts, ssrc) + body


def rtcp_sr(ssrc: int, n: int = 0) -> bytes:
    """A minimal RTCP sender report (RFC 3550 §6.4.1), n distinguishes packets."""
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, n, n + 1, n * 160, n, n * 200)
