"""SIP parse (and serialize) speed: rvoip-sansio side by side with other Python SIP parsers.

Each "parse" is: parse one message, then read the top Via branch, CSeq (number and method),
Call-ID, From tag and To tag through each library's own API. All libraries run in the same
process, interleaved in rounds, so that load on the machine affects them alike; the best of
the rounds is reported. Run: ``.venv/bin/python bench/bench_sip_parse.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "sip"
MESSAGES = {
    "INVITE+SDP": "invite_sdp.sip",
    "200 OK+SDP": "ok_sdp.sip",
    "REGISTER+auth": "register_auth.sip",
    "BYE": "bye.sip",
}

Reader = Callable[[bytes], object]


def rvoip_reader() -> Reader:
    from rvoip_sansio.sip import parse_message

    def read(data: bytes) -> object:
        m = parse_message(data)
        cseq = m.cseq
        return (m.top_via.branch, cseq.number, cseq.method, m.call_id, m.from_.tag, m.to.tag)

    return read


def sipmessage_reader() -> Reader:
    from sipmessage import Message

    def read(data: bytes) -> object:
        m = Message.parse(data)
        cseq = m.cseq
        return (m.via[0].parameters["branch"], cseq.sequence, cseq.method, m.call_id,
                m.from_address.parameters.get("tag"), m.to_address.parameters.get("tag"))

    return read


def aiosipua_reader() -> Reader:
    from aiosipua.message import SipMessage

    def read(data: bytes) -> object:
        m = SipMessage.parse(data)
        cseq = m.cseq
        assert cseq is not None and m.from_addr is not None and m.to_addr is not None
        return (m.via[0].branch, cseq.seq, cseq.method, m.call_id, m.from_addr.tag,
                m.to_addr.tag)

    return read


def sippy_reader() -> Reader:
    from sippy.SipRequest import SipRequest
    from sippy.SipResponse import SipResponse

    def read(data: bytes) -> object:
        text = data.decode()
        m = SipResponse(text) if text.startswith("SIP/") else SipRequest(text)
        cseq = m.getHFBody("cseq")
        return (m.getHFBody("via").getBranch(), cseq.getCSeqNum(), cseq.getCSeqMethod(),
                str(m.getHFBody("call-id")), m.getHFBody("from").getTag(),
                m.getHFBody("to").getTag())

    return read


def pyvoip_reader() -> Reader:
    import pyVoIP.VoIP  # noqa: F401  (importing pyVoIP.SIP first is a circular import)
    from pyVoIP.SIP import SIPMessage

    def read(data: bytes) -> object:
        m = SIPMessage(data)
        h = m.headers
        return (h["Via"][0]["branch"], h["CSeq"]["check"], h["CSeq"]["method"], h["Call-ID"],
                h["From"]["tag"], h["To"]["tag"])

    return read


LIBRARIES: dict[str, Callable[[], Reader]] = {
    "rvoip-sansio": rvoip_reader,
    "sipmessage": sipmessage_reader,
    "aiosipua": aiosipua_reader,
    "sippy": sippy_reader,
    "pyVoIP": pyvoip_reader,
}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn``: the fastest of many short batches over about ``seconds``
    (the minimum filters out the moments when other work on the machine steals the CPU)."""
    batch = 100
    best = float("inf")
    spent = 0.0
    while spent < seconds:
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        dt = time.perf_counter() - t0
        spent += dt
        best = min(best, dt)
    return batch / best


def interleaved(fns: dict[str, Callable[[], object]], seconds: float, slices: int) -> dict[str, float]:
    """Rates of several functions measured in alternation (``slices`` turns each), so that a
    change of load on the machine hits all of them alike."""
    best: dict[str, float] = {}
    for _ in range(slices):
        for name, fn in fns.items():
            best[name] = max(best.get(name, 0.0), rate(fn, seconds / slices))
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3, help="interleaving turns (x4)")
    ap.add_argument("--seconds", type=float, default=1.0, help="per library and message")
    args = ap.parse_args(argv)
    readers: dict[str, Reader] = {}
    for name, factory in LIBRARIES.items():
        try:
            readers[name] = factory()
        except (ImportError, AttributeError) as exc:
            print(f"# {name}: not importable ({exc}); skipped", file=sys.stderr)
    samples = {label: (DATA / f).read_bytes() for label, f in MESSAGES.items()}
    # Check every reader extracts the same facts before timing anything.
    for label, data in samples.items():
        for name, read in readers.items():
            try:
                got = read(data)
            except Exception as exc:  # a peer that cannot parse a sample is reported, not timed
                print(f"# {name} fails on {label}: {exc!r}", file=sys.stderr)
    best: dict[tuple[str, str], float] = {}
    gc.collect()
    for label, data in samples.items():
        fns: dict[str, Callable[[], object]] = {}
        for name, read in readers.items():
            try:
                read(data)
            except Exception:
                continue
            fns[name] = (lambda r, d: lambda: r(d))(read, data)
        for name, r in interleaved(fns, args.seconds * len(fns), args.rounds * 4).items():
            best[(label, name)] = r

    names = list(readers)
    print("## Parse + read top Via branch, CSeq, Call-ID, From tag, To tag (messages/s; fastest"
          " batch of 100, libraries interleaved)\n")
    print("| message | " + " | ".join(names) + " | rvoip / fastest peer |")
    print("|---" * (len(names) + 2) + "|")
    for label in samples:
        row = [best.get((label, n)) for n in names]
        peers = [v for n, v in zip(names, row) if n != "rvoip-sansio" and v]
        ours = best.get((label, "rvoip-sansio"), 0.0)
        ratio = f"{ours / max(peers):.1f}x" if peers else "n/a"
        cells = [f"{v:,.0f}" if v else "fails" for v in row]
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")

    from rvoip_sansio.sip import parse_message

    print("\n## rvoip-sansio serialization (messages/s)\n")
    print("| message | parse only | bytes() unmodified | bytes() after edit (new Via pushed)"
          " | parse+edit+bytes() |")
    print("|---|---|---|---|---|")
    for label, data in samples.items():
        msg = parse_message(data)
        parse_only = rate(lambda: parse_message(data), args.seconds)
        unmodified = rate(lambda: bytes(msg), args.seconds)
        edited = parse_message(data)
        edited.add("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKproxy1", first=True)

        def edit_ser() -> bytes:
            edited._raw = None  # force re-serialization each time
            return bytes(edited)

        after_edit = rate(edit_ser, args.seconds)

        def full() -> bytes:
            m = parse_message(data)
            m.add("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKproxy1", first=True)
            return bytes(m)

        full_rate = rate(full, args.seconds)
        print(f"| {label} | {parse_only:,.0f} | {unmodified:,.0f} | {after_edit:,.0f} | "
              f"{full_rate:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
