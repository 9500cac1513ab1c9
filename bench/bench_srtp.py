"""SRTP protect/unprotect packets per second, side by side with libsrtp (pylibsrtp).

160-byte payloads (20 ms of G.711), one SSRC. Per-packet calls for both libraries, and our
batch API (``protect_many``) against libsrtp's per-packet rate. Rounds interleave the
contenders and the best round counts, so load from other processes hurts all alike.

    .venv/bin/python bench/bench_srtp.py [--packets N] [--rounds R] [--batch B]
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
        struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, ssrc) + bytes([i & 0xFF]) * 160
        for i in range(n)
    ]


def rate(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def bench(profile: SrtpProfile, n: int, rounds: int, batch: int) -> dict[str, float]:
    key = bytes(range(profile.spec.master_len))
    plain = packets(n)
    wire = [SrtpSession(profile, key).protect(p) for p in plain]
    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = max(best.get(name, 0.0), value)

    for _ in range(rounds):
        tx = SrtpSession(profile, key)
        keep("ours protect", rate(lambda: [tx.protect(p) for p in plain], n))
        rx = SrtpSession(profile, key)
        keep("ours unprotect", rate(lambda: [rx.unprotect(p) for p in wire], n))
        txb = SrtpSession(profile, key)

        def run_batch() -> None:
            for i in range(0, n, batch):
                txb.protect_many(plain[i : i + batch])

        keep("ours protect_many", rate(run_batch, n))
        if pylibsrtp is not None:
            P = pylibsrtp.Policy
            lp = getattr(P, LIBSRTP_IDS[profile])
            ltx = pylibsrtp.Session(P(key=key, ssrc_type=P.SSRC_ANY_OUTBOUND, srtp_profile=lp))
            keep("libsrtp protect", rate(lambda: [ltx.protect(p) for p in plain], n))
            lrx = pylibsrtp.Session(P(key=key, ssrc_type=P.SSRC_ANY_INBOUND, srtp_profile=lp))
            keep("libsrtp unprotect", rate(lambda: [lrx.unprotect(p) for p in wire], n))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    print(f"SRTP, 160-byte payloads, {args.packets} packets x {args.rounds} rounds (best), "
          f"batch {args.batch}")
    print(f"{'profile':<26}{'operation':<20}{'ours pkt/s':>12}{'libsrtp pkt/s':>15}{'ratio':>8}")
    for profile in (SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM):
        r = bench(profile, args.packets, args.rounds, args.batch)
        lib_p = r.get("libsrtp protect", 0.0)
        lib_u = r.get("libsrtp unprotect", 0.0)
        rows = [("protect", r["ours protect"], lib_p), ("unprotect", r["ours unprotect"], lib_u),
                ("protect_many", r["ours protect_many"], lib_p)]
        for op, ours, lib in rows:
            ratio = f"{ours / lib:.2f}" if lib else "n/a"
            print(f"{profile.value:<26}{op:<20}{ours:>12,.0f}{lib:>15,.0f}{ratio:>8}")
    if pylibsrtp is None:
        print("pylibsrtp is not installed: no comparison")


if __name__ == "__main__":
    main()
