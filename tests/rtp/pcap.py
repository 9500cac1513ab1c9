"""A minimal pcap (libpcap classic format) reader and writer for the tests: Ethernet/IPv4/UDP
(or Linux cooked / raw IP) frames carrying one UDP payload each."""

from __future__ import annotations

import struct
from pathlib import Path


def read_udp_payloads(path: Path) -> list[tuple[float, bytes]]:
    data = path.read_bytes()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        raise ValueError("not a classic pcap file")
    linktype = struct.unpack_from(e + "I", data, 20)[0]
    pos = 24
    out: list[tuple[float, bytes]] = []
    while pos + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from(e + "IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if linktype == 1:  # Ethernet
            off = 14
            ethertype = struct.unpack_from("!H", frame, 12)[0]
            if ethertype == 0x8100:
                off, ethertype = 18, struct.unpack_from("!H", frame, 16)[0]
            if ethertype != 0x0800:
                continue
        elif linktype == 113:  # Linux cooked
            off = 16
        elif linktype in (101, 228):  # raw IPv4
            off = 0
        else:
            raise ValueError(f"link type {linktype} not handled")
        ip = frame[off:]
        if ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        udp_len = struct.unpack_from("!H", ip, ihl + 4)[0]
        out.append((sec + usec / 1e6, bytes(ip[ihl + 8 : ihl + udp_len])))
    return out


def _checksum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def write_udp_pcap(path: Path, packets: list[tuple[float, int, int, bytes]]) -> None:
    """Write (time, src_port, dst_port, payload) as Ethernet/IPv4/UDP between 127.0.0.1s."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    src = dst = bytes([127, 0, 0, 1])
    for i, (t, sport, dport, payload) in enumerate(packets):
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                         src, dst)
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        sec = int(t)
        out += struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
