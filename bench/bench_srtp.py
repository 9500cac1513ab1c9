"""SRTP protect/unprotect packets per second, side by side with libsrtp (pylibsrtp).

160-byte payloads (20 ms of G.711), one SSRC, every profile (RFC 3711, RFC 6188, RFC 7714).
Per-packet calls for both libraries, and our batch API (``protect_many``) against libsrtp's
per-packet rate. pylibsrtp has no preset for the RFC 6188 AES-256-CM suites: their libsrtp
crypto policy is filled in the way ``srtp_crypto_policy_set_aes_cm_256_hmac_sha1_{80,32}``
does (as in tests/srtp/test_libsrtp_interop.py). The contenders alternate in
chunks of ``--chunk`` packets (one round: every contender on the same chunk, back to back);
rates come from the median chunk time and each ratio is the median of the per-round ratios,
so load from other processes lands on both alike; the ratio is what counts, not the rate.

    .venv/bin/python bench/bench_srtp.py [--packets N] [--chunk C] [--batch B] [--profiles ...]
    .venv/bin/python bench/bench_srtp.py --calltick 500     # SRTP CPU per call-tick, N calls
    .venv/bin/python bench/bench_srtp.py --calltick 500 --calltick-profile AEAD_AES_256_GCM

Our side runs twice in the same rounds: "ours" as sessions are made here (the per-packet
C context of ``srtp/_srtp_native.c`` for the AES-CM suites when built and the CPU has AES-NI,
and for the AEAD_AES_*_GCM suites when it also has PCLMULQDQ)
and "pure" (every session made with the C paths switched off), so the "C/pure" column is
the accelerator's speed-up measured side by side. ``RVOIP_SRTP_PURE=1`` makes "ours" pure too.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import time
from typing import Any, Callable

from rvoip_sansio.srtp import SrtpProfile, SrtpSession, _transform

try:
    import pylibsrtp
except ImportError:  # pragma: no cover
    pylibsrtp = None

LIBSRTP_IDS = {
    SrtpProfile.AES_CM_128_HMAC_SHA1_80: "SRTP_PROFILE_AES128_CM_SHA1_80",
    SrtpProfile.AES_CM_128_HMAC_SHA1_32: "SRTP_PROFILE_AES128_CM_SHA1_32",
    SrtpProfile.AEAD_AES_128_GCM: "SRTP_PROFILE_AEAD_AES_128_GCM",
    SrtpProfile.AEAD_AES_256_GCM: "SRTP_PROFILE_AEAD_AES_256_GCM",
}
#: libsrtp's srtp_cipher_type_id_t of AES-192 and AES-256 counter mode, by key + salt length.
_AES_ICM = {46: 5}


def libsrtp_policy(profile: SrtpProfile, key: bytes, inbound: bool) -> Any:
    P = pylibsrtp.Policy
    ssrc_type = P.SSRC_ANY_INBOUND if inbound else P.SSRC_ANY_OUTBOUND
    if profile in LIBSRTP_IDS:
        return P(key=key, ssrc_type=ssrc_type, srtp_profile=getattr(P, LIBSRTP_IDS[profile]))
    # srtp_crypto_policy_t: {cipher_type, cipher_key_len, auth_type, auth_key_len,
    # auth_tag_len, sec_serv}; the RTP and RTCP policies of an RFC 6188 suite.
    policy = P(key=key + bytes(16), ssrc_type=ssrc_type)
    for part, tag in ((policy._policy.rtp, profile.spec.rtp_tag_len), (policy._policy.rtcp, 10)):
        fields = pylibsrtp.ffi.cast("int *", pylibsrtp.ffi.addressof(part))
        fields[0] = _AES_ICM[profile.spec.master_len]
        fields[1] = profile.spec.master_len
        fields[4] = tag
    policy.key = key
    return policy


def packets(n: int, ssrc: int = 0x5EED5EED) -> list[bytes]:
    return [
        struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, ssrc)
        + bytes([i & 0xFF]) * 160
        for i in range(n)
    ]


def race(contenders: dict[str, Callable[[list[bytes]], Any]], data: list[bytes],
         chunk: int) -> dict[str, list[float]]:
    """Seconds each contender spent on each chunk, the contenders taking turns per chunk."""
    spent: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(0, len(data) - chunk + 1, chunk):
        part = data[i : i + chunk]
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn(part)
            spent[name].append(time.perf_counter() - t0)
    return spent


def pure_session(profile: SrtpProfile, key: bytes) -> SrtpSession:
    """A session made with the C context and the C XOR switched off (the pure path)."""
    saved = _transform.CM_CONTEXT, _transform.XOR_TAIL
    _transform.CM_CONTEXT = _transform.XOR_TAIL = None
    try:
        return SrtpSession(profile, key)
    finally:
        _transform.CM_CONTEXT, _transform.XOR_TAIL = saved


def bench(profile: SrtpProfile, n: int, chunk: int, batch: int) -> dict[str, list[float]]:
    key = bytes(range(profile.spec.master_len))
    plain = packets(n)
    wire = [SrtpSession(profile, key).protect(p) for p in plain]
    tx, txb, rx = (SrtpSession(profile, key) for _ in range(3))
    ptx, prx = pure_session(profile, key), pure_session(profile, key)
    warm = SrtpSession(profile, key)  # first calls (caches, numpy) stay out of the timing
    warm.protect_many(plain[:batch])
    warm.protect_many(plain[batch : 2 * batch])

    def ours_batch(part: list[bytes]) -> None:
        for i in range(0, len(part), batch):
            txb.protect_many(part[i : i + batch])

    protect: dict[str, Callable[[list[bytes]], Any]] = {
        "ours protect": lambda part: [tx.protect(p) for p in part],
        "pure protect": lambda part: [ptx.protect(p) for p in part],
        "ours protect_many": ours_batch,
    }
    unprotect: dict[str, Callable[[list[bytes]], Any]] = {
        "ours unprotect": lambda part: [rx.unprotect(p) for p in part],
        "pure unprotect": lambda part: [prx.unprotect(p) for p in part],
    }
    if pylibsrtp is not None and (profile in LIBSRTP_IDS or profile.spec.master_len in _AES_ICM):
        ltx = pylibsrtp.Session(libsrtp_policy(profile, key, inbound=False))
        lrx = pylibsrtp.Session(libsrtp_policy(profile, key, inbound=True))
        assert lrx.unprotect(wire[0]) == plain[0]  # same profile on both sides
        lrx = pylibsrtp.Session(libsrtp_policy(profile, key, inbound=True))
        protect["libsrtp protect"] = lambda part: [ltx.protect(p) for p in part]
        unprotect["libsrtp unprotect"] = lambda part: [lrx.unprotect(p) for p in part]
    return {**race(protect, plain, chunk), **race(unprotect, wire, chunk)}


def calltick(calls: int, ticks: int, rounds: int,
             profile: SrtpProfile = SrtpProfile.AES_CM_128_HMAC_SHA1_80) -> None:
    """SRTP CPU per call-tick at ``calls`` concurrent calls: per 20 ms tick each call's two ends
    protect one 160-byte packet and unprotect the peer's (2 protect + 2 unprotect), the
    sessions visited round robin as ``CallMediaGroup`` does, C context and pure alternating
    in rounds (process CPU time, the packet building measured alone and subtracted)."""

    def ends(pure: bool) -> list[tuple[SrtpSession, SrtpSession, int]]:
        make = pure_session if pure else SrtpSession
        out = []
        for end in range(2 * calls):
            key = ((end // 2).to_bytes(2, "big") * 30)[: profile.spec.master_len]
            out.append((make(profile, key), make(profile, key), 0x1000 + end))
        return out

    payload = bytes(160)

    def run(sessions: list[tuple[SrtpSession, SrtpSession, int]], t0: int, srtp: bool) -> float:
        start = time.process_time()
        for t in range(t0, t0 + ticks):
            for tx, rx, ssrc in sessions:
                pkt = struct.pack("!BBHII", 0x80, 0, t & 0xFFFF, t * 160, ssrc) + payload
                if srtp:
                    rx.unprotect(tx.protect(pkt))
        return (time.process_time() - start) / (ticks * calls)

    c_ends, p_ends = ends(False), ends(True)
    spent: dict[str, list[float]] = {"C context": [], "pure": []}
    for r in range(rounds):
        base = run(c_ends, 0, False)
        spent["C context"].append(run(c_ends, r * ticks, True) - base)
        spent["pure"].append(run(p_ends, r * ticks, True) - base)
    print(f"SRTP CPU per call-tick (2 protect + 2 unprotect, 160-byte payloads), {profile.value}, "
          f"{calls} calls, "
          f"{rounds} rounds of {ticks} ticks; C context {'on' if c_ends[0][0]._cx else 'OFF'}")
    for name, values in spent.items():
        print(f"{name:<10} median {1e6 * statistics.median(values):6.2f} us  "
              f"(min {1e6 * min(values):.2f}, max {1e6 * max(values):.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--packets", type=int, default=61_440, help="below 65536 keeps one ROC")
    ap.add_argument("--chunk", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--profiles", nargs="*", choices=[p.value for p in SrtpProfile],
                    default=[p.value for p in SrtpProfile if "_192_" not in p.value],
                    help="default: all but AES-192 (not in the issue; no libsrtp run here)")
    ap.add_argument("--calltick", type=int, metavar="CALLS",
                    help="instead: SRTP CPU per call-tick at CALLS concurrent calls")
    ap.add_argument("--ticks", type=int, default=100, help="with --calltick: ticks per round")
    ap.add_argument("--calltick-profile", choices=[p.value for p in SrtpProfile],
                    default=SrtpProfile.AES_CM_128_HMAC_SHA1_80.value)
    args = ap.parse_args()
    if args.calltick:
        calltick(args.calltick, args.ticks, 5, SrtpProfile(args.calltick_profile))
        return
    print(f"SRTP, 160-byte payloads, {args.packets} packets, chunks of {args.chunk} "
          f"alternating (medians over rounds), protect_many batches of {args.batch}")
    c_on = _transform.CM_CONTEXT is not None
    print(f"C context: {'on' if c_on else 'off'}; ratio = ours / libsrtp rate, C/pure = ours / "
          "pure rate (same rounds)")
    print(f"{'profile':<26}{'operation':<16}{'ours pkt/s':>12}{'ns/pkt':>8}{'libsrtp pkt/s':>15}"
          f"{'ratio':>8}{'pure pkt/s':>12}{'C/pure':>8}")
    for profile in map(SrtpProfile, args.profiles):
        r = bench(profile, args.packets, args.chunk, args.batch)
        lib_p = r.get("libsrtp protect", [])
        lib_u = r.get("libsrtp unprotect", [])
        rows = [("protect", r["ours protect"], lib_p, r["pure protect"]),
                ("unprotect", r["ours unprotect"], lib_u, r["pure unprotect"]),
                ("protect_many", r["ours protect_many"], lib_p, [])]
        for op, ours, lib, pure in rows:
            # Rates from the median chunk time; the ratio is the median of the per-round
            # ratios (both ran on the same chunk back to back), robust to load spikes.
            rate = args.chunk / statistics.median(ours)
            lib_rate = args.chunk / statistics.median(lib) if lib else 0.0
            ratio = f"{statistics.median(b / a for a, b in zip(ours, lib)):.2f}" if lib else "n/a"
            p_rate = f"{args.chunk / statistics.median(pure):,.0f}" if pure else "n/a"
            speed = f"{statistics.median(b / a for a, b in zip(ours, pure)):.1f}" if pure else ""
            print(f"{profile.value:<26}{op:<16}{rate:>12,.0f}{1e9 / rate:>8,.0f}{lib_rate:>15,.0f}"
                  f"{ratio:>8}{p_rate:>12}{speed:>8}", flush=True)
    if pylibsrtp is None:
        print("pylibsrtp is not installed: no comparison")


if __name__ == "__main__":
    main()
