"""SDP and digest speed: rvoip-sansio side by side with the Python stacks people use today.

SDP "parse" is: parse one SDP body from bytes, then read the first media's address, port and
codec names through each library's own API (sippy, aiosipua, aiortc). "answer" builds an
RFC 3264 answer to the offer (aiosipua's negotiate_sdp is the only peer with one). Digest:
computing an Authorization value for a challenge (aiosipua), and parsing + verifying one
(sippy). All libraries run in the same process, interleaved in rounds; best round reported.
Run: ``.venv/bin/python bench/bench_sdp.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDP = ROOT / "tests" / "data" / "sdp"
INPUTS = {
    "baresip offer (425 B)": (SDP / "baresip_offer_opus_g722.sdp").read_bytes(),
    "Chrome offer (2.9 KB)": (SDP / "chrome_webrtc_offer.sdp").read_bytes(),
}
CHALLENGE = (
    'Digest realm="atlanta.example.com", nonce="84a4cc6f3082121f32b42a2187831a9e", '
    'qop="auth", algorithm=MD5, opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)

Op = Callable[[], object]


def rate(op: Op, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(50):
            op()
        n += 50
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def sdp_parsers(data: bytes) -> dict[str, Op]:
    ops: dict[str, Op] = {}
    from rvoip_sansio.sdp import parse_sdp

    def ours() -> object:
        sdp = parse_sdp(data)
        conn = sdp.media_connection(0)
        m = sdp.media[0]
        return (conn.host if conn else None, m.port, [r.encoding for r in m.rtpmaps])

    ops["rvoip-sansio"] = ours
    try:
        from sippy.SdpBody import SdpBody

        def sippy() -> object:
            body = SdpBody(data.decode())
            s = body.sections[0]
            conn = s.c_header or body.c_header
            names = [str(a.value).split(" ", 1)[1].split("/")[0] for a in s.a_headers if a.name == "rtpmap"]
            return (conn.addr if conn else None, s.m_header.port, names)

        ops["sippy"] = sippy
    except ImportError:
        pass
    try:
        from aiosipua.sdp import parse_sdp as aio_parse

        def aiosipua() -> object:
            sdp = aio_parse(data.decode())
            m = sdp.media[0]
            conn = m.connection or sdp.connection
            return (conn.address if conn else None, m.port, [c.encoding_name for c in m.codecs])

        ops["aiosipua"] = aiosipua
    except ImportError:
        pass
    try:
        from aiortc.sdp import SessionDescription

        def aiortc() -> object:
            d = SessionDescription.parse(data.decode())
            m = d.media[0]
            return (m.host or d.host, m.port, [c.mimeType for c in m.rtp.codecs])

        ops["aiortc"] = aiortc
    except ImportError:
        pass
    return ops


def sdp_serializers(data: bytes) -> dict[str, Op]:
    from rvoip_sansio.sdp import Direction, parse_sdp

    ours = parse_sdp(data)
    edited = parse_sdp(data)
    edited.media[0].direction = Direction.SENDONLY
    ops: dict[str, Op] = {
        "rvoip-sansio (unchanged)": lambda: bytes(ours),
        "rvoip-sansio (edited)": lambda: bytes(edited),
    }
    try:
        from sippy.SdpBody import SdpBody

        body = SdpBody(data.decode())
        ops["sippy"] = lambda: str(body).encode()
    except ImportError:
        pass
    try:
        from aiosipua.sdp import parse_sdp as aio_parse
        from aiosipua.sdp import serialize_sdp

        msg = aio_parse(data.decode())
        ops["aiosipua"] = lambda: serialize_sdp(msg).encode()
    except ImportError:
        pass
    try:
        from aiortc.sdp import SessionDescription

        d = SessionDescription.parse(data.decode())
        ops["aiortc"] = lambda: str(d).encode()
    except ImportError:
        pass
    return ops


def answerers(data: bytes) -> dict[str, Op]:
    from rvoip_sansio.sdp import PCMA, PCMU, LocalCapabilities, MediaCapabilities, OfferAnswer

    local = LocalCapabilities(address="192.0.2.1", media=(MediaCapabilities(codecs=(PCMU, PCMA), port=4000),))

    def ours() -> object:
        return bytes(OfferAnswer(local=local, session_id=1).answer_offer(data)[0])

    ops: dict[str, Op] = {"rvoip-sansio": ours}
    try:
        from aiosipua.sdp import parse_sdp as aio_parse
        from aiosipua.sdp import serialize_sdp
        from aiosipua.sdp_negotiate import negotiate_sdp

        def aiosipua() -> object:
            answer, _ = negotiate_sdp(aio_parse(data.decode()), "192.0.2.1", 4000, [0, 8], session_id="1")
            return serialize_sdp(answer).encode()

        ops["aiosipua"] = aiosipua
    except ImportError:
        pass
    return ops


def digest_ops() -> dict[str, Op]:
    from rvoip_sansio.sip.auth import (
        Algorithm,
        Credentials,
        DigestClient,
        DigestServer,
        DigestServerConfig,
        InMemoryCredentialStore,
    )

    client = DigestClient(credentials=[Credentials(username="bob", password="zanzibar")], rng=random.Random(1))
    client.handle_challenge([CHALLENGE], proxy=False)
    store = InMemoryCredentialStore()
    store.add("bob", "atlanta.example.com", "zanzibar")
    server = DigestServer(
        config=DigestServerConfig(realm="atlanta.example.com", algorithms=(Algorithm.MD5,)),
        secret=b"s" * 32, store=store, rng=random.Random(2),
    )
    client2 = DigestClient(credentials=[Credentials(username="bob", password="zanzibar")], rng=random.Random(3))
    client2.handle_challenge(server.challenge(now=0.0), proxy=False)
    pre = [client2.authorize(method="INVITE", uri="sip:bob@biloxi.example.com")[0][1] for _ in range(200_000)]
    it = iter(pre)

    ops: dict[str, Op] = {
        "rvoip-sansio client authorize": lambda: client.authorize(method="INVITE", uri="sip:bob@biloxi.example.com"),
        "rvoip-sansio server verify (+replay check)": lambda: server.verify(
            method="INVITE", authorization=next(it), now=1.0),
    }
    try:
        from aiosipua.auth import SipDigestAuth, build_credentials
        from aiosipua.headers import parse_auth

        auth = SipDigestAuth(username="bob", password="zanzibar")

        def aio() -> object:
            return str(build_credentials(auth, parse_auth(CHALLENGE), "INVITE", "sip:bob@biloxi.example.com",
                                         cnonce="0a4f113b"))

        ops["aiosipua client build_credentials"] = aio
    except ImportError:
        pass
    try:
        from sippy.SipAuthorization import SipAuthorization

        value = pre[0]

        def sippy() -> object:
            a = SipAuthorization(body=value)
            a.parse()
            return a.genAuthResponse("zanzibar", "INVITE", None)

        ops["sippy parse + compute response"] = sippy
    except ImportError:
        pass
    return ops


def table(title: str, ops: dict[str, Op], rounds: int, seconds: float, ref: str) -> None:
    best = {name: 0.0 for name in ops}
    for _ in range(rounds):
        for name, op in ops.items():
            gc.collect()
            best[name] = max(best[name], rate(op, seconds))
    print(f"\n{title}")
    print(f"| library | ops/s | ratio to {ref} |")
    print("|---|---:|---:|")
    base = best[ref]
    for name, value in best.items():
        print(f"| {name} | {value:,.0f} | {value / base:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.4)
    args = parser.parse_args()
    for label, data in INPUTS.items():
        table(f"SDP parse + read address/port/codecs: {label}", sdp_parsers(data), args.rounds,
              args.seconds, "rvoip-sansio")
    for label, data in INPUTS.items():
        table(f"SDP serialize: {label}", sdp_serializers(data), args.rounds, args.seconds,
              "rvoip-sansio (unchanged)")
    data = INPUTS["baresip offer (425 B)"]
    table("RFC 3264 answer to the baresip offer (parse + answer + serialize)", answerers(data),
          args.rounds, args.seconds, "rvoip-sansio")
    ops = digest_ops()
    table("Digest (MD5, qop=auth)", ops, args.rounds, args.seconds, next(iter(ops)))


if __name__ == "__main__":
    main()
