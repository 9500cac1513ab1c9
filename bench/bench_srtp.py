"""SRTP protect/unprotect packets per second, side by side with libsrtp (pylibsrtp).

160-byte payloads (20 ms of G.711), one SSRC. Per-packet calls for both libraries, and our
batch API (``protect_many``) against libsrtp's per-packet rate. The contenders alternate in
chunks of ``--chunk`` packets and each one's time is summed over all its chunks, so load from
other processes lands on both alike; the ratio is what counts, not the absolute rate.

    .venv/bin/python bench/bench_srtp.py [--packets N] [--chunk C] [--batch B]
"""

from __future__ import annotations

import argparse
import struct
import time
from typing import Any, Callable

from rvoip_sansio.srtp import SrtpProfile, SrtpSession

try:
    import pylibsrtp
except ImportError:  # pragma: no cover
    pylibsrtp = None

LIBSRTP_IDS = {
    SrtpProfile.AES_CM_128_HMAC_SHA1_80: "SRTP_PROFILE_AES128_CM_SHA1_80",
    SrtpProfile.AEAD_AES_128_GCM: "SRTP_PROFILE_AEAD_AES_128_GCM",
}


def packets(n: int, ssrc: int = 0x5EED5EED) -> list[bytes]:
    return [
        struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, ssrc)
        + bytes([i & 0xFF]) * 160
        for i in range(n)
    ]


def race(contenders: dict[str, Callable[[list[bytes]], Any]], data: list[bytes],
         chunk: int) -> dict[str, float]:
    """Packets per second of each contender, fed the same chunks in alternation."""
    spent = dict.fromkeys(contenders, 0.0)
    for i in range(0, len(data), chunk):
        part = data[i : i + chunk]
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn(part)
            spent[name] += time.perf_counter() - t0
    return {name: len(data) / t for name, t in spent.items()}


def bench(profile: SrtpProfile, n: int, chunk: int, batch: int) -> dict[str, float]:
    key = bytes(range(profile.spec.master_len))
    plain = packets(n)
    wire = [SrtpSession(profile, key).protect(p) for p in plain]
    tx, txb, rx = (SrtpSession(profile, key) for _ in range(3))
    warm = SrtpSession(profile, key)  # first calls (caches, numpy) stay out of the timing
    warm.protect_many(plain[:batch])
    warm.protect_many(plain[batch : 2 * batch])

    def ours_batch(part: list[bytes]) -> None:
        for i in range(0, len(part), batch):
            txb.protect_many(part[i : i + batch])

    protect: dict[str, Callable[[list[bytes]], Any]] = {
        "ours protect": lambda part: [tx.protect(p) for p in part],
        "ours protect_many": ours_batch,
    }
    unprotect: dict[str, Callable[[list[bytes]], Any]] = {
        "ours unprotect": lambda part: [rx.unprotect(p) for p in part],
    }
    if pylibsrtp is not None:
        P = pylibsrtp.Policy
        lp = getattr(P, LIBSRTP_IDS[profile])
        ltx = pylibsrtp.Session(P(key=key, ssrc_type=P.SSRC_ANY_OUTBOUND, srtp_profile=lp))
        lrx = pylibsrtp.Session(P(key=key, ssrc_type=P.SSRC_ANY_INBOUND, srtp_profile=lp))
        protect["libsrtp protect"] = lambda part: [ltx.protect(p) for p in part]
        unprotect["libsrtp unprotect"] = lambda part: [lrx.unprotect(p) for p in part]
    return {**race(protect, plain, chunk), **race(unprotect, wire, chunk)}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--packets", type=int, default=60_000, help="below 65536 keeps one ROC")
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    print(f"SRTP, 160-byte payloads, {args.packets} packets, chunks of {args.chunk} "
          f"alternating, protect_many batches of {args.batch}")
    print(f"{'profile':<26}{'operation':<16}{'ours pkt/s':>12}{'libsrtp pkt/s':>15}{'ratio':>8}")
    for profile in (SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM):
        r = bench(profile, args.packets, args.chunk, args.batch)
        lib_p = r.get("libsrtp protect", 0.0)
        lib_u = r.get("libsrtp unprotect", 0.0)
        rows = [("protect", r["ours protect"], lib_p), ("unprotect", r["ours unprotect"], lib_u),
                ("protect_many", r["ours protect_many"], lib_p)]
        for op, ours, lib in rows:
            ratio = f"{ours / lib:.2f}" if lib else "n/a"
            print(f"{profile.value:<26}{op:<16}{ours:>12,.0f}{lib:>15,.0f}{ratio:>8}")
    if pylibsrtp is None:
        print("pylibsrtp is not installed: no comparison")


if __name__ == "__main__":
    main()
