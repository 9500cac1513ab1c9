"""Ladder diagrams (call flows, as sngrep draws them) from a simulated network's trace."""

from __future__ import annotations

from typing import Sequence

from .._core import Address
from ._network import Fate, TraceEntry

__all__ = ["describe", "ladder"]

_RTCP_TYPES = {200: "SR", 201: "RR", 202: "SDES", 203: "BYE", 204: "APP", 205: "RTPFB", 206: "PSFB", 207: "XR"}


def describe(data: bytes) -> str:
    """A short label for a datagram: SIP method or status, RTP/RTCP header facts, or size."""
    if not data:
        return "(empty)"
    end = data.find(b"\r\n")
    line = data[: end if end >= 0 else 80]
    if line.startswith(b"SIP/2.0 "):
        return line[8:].decode("utf-8", "replace").strip()
    if line.endswith(b"SIP/2.0") and b" " in line:
        method = line.split(b" ", 1)[0].decode("ascii", "replace")
        cseq = _header(data, b"\r\ncseq:")
        return f"{method} ({cseq})" if cseq and not cseq.endswith(method) else method
    if len(data) >= 8 and data[0] >> 6 == 2:
        pt = data[1]
        if 200 <= pt <= 207:
            return f"RTCP {_RTCP_TYPES[pt]}"
        seq = int.from_bytes(data[2:4], "big")
        return f"RTP pt={pt & 0x7F} seq={seq}"
    if data in (b"\r\n", b"\r\n\r\n"):
        return "keep-alive"
    return f"{len(data)} bytes"


def _header(data: bytes, name: bytes) -> str:
    i = data.lower().find(name)
    if i < 0:
        return ""
    j = data.find(b"\r\n", i + 2)
    return data[i + len(name) : j].decode("utf-8", "replace").strip()


def ladder(
    trace: Sequence[TraceEntry],
    nodes: Sequence[tuple[str, Address]] = (),
    *,
    width: int = 28,
    start: float | None = None,
    end: float | None = None,
    show_lost: bool = True,
) -> str:
    """Draw ``trace`` as a ladder: one column per node, one row per datagram, send time left.

    Lost datagrams end in ``x`` before the receiver's line; the extra copy of a duplicated
    datagram is marked ``(dup)``; datagrams to nobody go to a column named after the address.
    """
    columns: list[str] = [name for name, _ in nodes]
    headers: dict[str, str] = {name: f"{name}" for name, _ in nodes}
    for e in trace:
        for name in (e.src_name, e.dst_name):
            if name not in headers:
                columns.append(name)
                headers[name] = name
    pos = {name: 10 + i * width for i, name in enumerate(columns)}
    total = 10 + max(len(columns) - 1, 0) * width + 1
    lines = [" " * 10 + "".join(h[: width - 2].ljust(width) for h in (headers[c] for c in columns)).rstrip()]
    addr_line = " " * 10 + "".join(f"{a[0]}:{a[1]}"[: width - 2].ljust(width) for _, a in nodes)
    if nodes:
        lines.append(addr_line.rstrip())
    for e in trace:
        if start is not None and e.sent < start:
            continue
        if end is not None and e.sent > end:
            continue
        if e.fate is Fate.LOST and not show_lost:
            continue
        row = [" "] * total
        for c in columns:
            row[pos[c]] = "|"
        a, b = pos[e.src_name], pos[e.dst_name]
        label = describe(e.data)
        if e.fate is Fate.DUPLICATE:
            label += " (dup)"
        elif e.fate is Fate.NO_ROUTE:
            label += " (no route)"
        lo, hi = min(a, b), max(a, b)
        for x in range(lo + 1, hi):
            row[x] = "-"
        if a < b:
            row[hi - 1] = "x" if e.fate is Fate.LOST else ">"
        elif a > b:
            row[lo + 1] = "x" if e.fate is Fate.LOST else "<"
        span = hi - lo - 3
        text = f" {label} "[: max(span, 0)]
        if text:
            first = lo + 2 + max((span - len(text)) // 2, 0)
            for i, ch in enumerate(text):
                row[first + i] = ch
        lines.append(f"{e.sent:9.3f} " + "".join(row)[10:].rstrip())
    return "\n".join(lines) + "\n"
