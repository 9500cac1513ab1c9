"""SIP parse (and serialize) speed: rvoip-sansio side by side with other Python SIP parsers.

Each "parse" is: parse one message, then read the top Via branch, CSeq (number and method),
Call-ID, From tag and To tag through each library's own API. All libraries run in the same
process, interleaved in rounds, so that load on the machine affects them alike; the fastest
batch of each is kept. ``--runs N`` repeats the whole measurement and reports the median and
the range of the N ratios. Run: ``.venv/bin/python bench/bench_sip_parse.py [--runs 3]``.

rvoip-sansio is measured twice: with its optional C accelerator (``_sip_native``, the default
when it is built) and on its pure-Python path (the accelerator switched off in-process for its
turns, as ``RVOIP_PURE=1`` would), each against the same peers in the same run.

Fairness: every reader's six values are compared with rvoip-sansio's before anything is timed
(a peer that disagrees is reported), and every timed call starts from the bytes of the
datagram, so each library does all the parsing its answers need inside the timed call;
nothing is cached between calls (a new message object every time). What each does beyond
that differs: rvoip-sansio checks the start line, the shape of every header line and the
Content-Length framing, and parses the Via, CSeq, Call-ID, From and To values it returns with
their grammar (the other headers are checked as lines and parsed when read); pyVoIP splits the
lines and parses every header it knows at construction (all Via values included; the CSeq
number stays text); sippy, sipmessage and aiosipua split the lines at construction and parse a
header's value when it is read. Reading ``via[0]``, sipmessage and aiosipua parse every Via
value (three in the 200 OK sample, one in the others); rvoip-sansio's ``top_via`` and sippy's
``getHFBody("via")`` parse the first only.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from typing import Any
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "sip"
MESSAGES = {
    "INVITE+SDP": "invite_sdp.sip",
    "200 OK+SDP": "ok_sdp.sip",
    "REGISTER+auth": "register_auth.sip",
    "BYE": "bye.sip",
}

Reader = Callable[[bytes], tuple[object, ...]]


def rvoip_reader() -> Reader:
    from rvoip_sansio.sip import parse_message

    def read(data: bytes) -> tuple[object, ...]:
        m = parse_message(data)
        cseq = m.cseq
        return (m.top_via.branch, cseq.number, cseq.method, m.call_id, m.from_.tag, m.to.tag)

    return read


def rvoip_pure_reader() -> Reader:
    from rvoip_sansio.sip import _parser

    parse_message = _parser.parse_message_pure

    def read(data: bytes) -> tuple[object, ...]:
        m = parse_message(data)
        cseq = m.cseq
        return (m.top_via.branch, cseq.number, cseq.method, m.call_id, m.from_.tag, m.to.tag)

    return read


def pure_turn(on: bool) -> None:
    """Switch rvoip-sansio's accelerator off (``on``) or back on around the pure reader's
    turns: its C properties give way to the Python ones."""
    from rvoip_sansio.sip import _parser

    if _parser.NATIVE is None:
        return
    if on:
        _parser.unload_native()
    else:
        _parser.load_native()


def sipmessage_reader() -> Reader:
    from sipmessage import Message

    def read(data: bytes) -> tuple[object, ...]:
        m = Message.parse(data)
        cseq = m.cseq
        return (m.via[0].parameters["branch"], cseq.sequence, cseq.method, m.call_id,
                m.from_address.parameters.get("tag"), m.to_address.parameters.get("tag"))

    return read


def aiosipua_reader() -> Reader:
    from aiosipua.message import SipMessage

    def read(data: bytes) -> tuple[object, ...]:
        m = SipMessage.parse(data)
        cseq = m.cseq
        assert cseq is not None and m.from_addr is not None and m.to_addr is not None
        return (m.via[0].branch, cseq.seq, cseq.method, m.call_id, m.from_addr.tag,
                m.to_addr.tag)

    return read


def sippy_reader() -> Reader:
    from sippy.SipRequest import SipRequest
    from sippy.SipResponse import SipResponse

    def read(data: bytes) -> tuple[object, ...]:
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

    def read(data: bytes) -> tuple[object, ...]:
        m = SIPMessage(data)
        h = m.headers
        return (h["Via"][0]["branch"], h["CSeq"]["check"], h["CSeq"]["method"], h["Call-ID"],
                h["From"]["tag"], h["To"]["tag"])

    return read


OURS = "rvoip-sansio"
OURS_PURE = "rvoip pure"
LIBRARIES: dict[str, Callable[[], Reader]] = {
    OURS: rvoip_reader,
    OURS_PURE: rvoip_pure_reader,
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
    """Rates of several functions measured in alternation (``slices`` turns each, ``seconds``
    in all for each), so that a change of load on the machine hits all of them alike."""
    best: dict[str, float] = {}
    for _ in range(slices):
        for name, fn in fns.items():
            if name == OURS_PURE:
                pure_turn(True)
            try:
                best[name] = max(best.get(name, 0.0), rate(fn, seconds / slices))
            finally:
                if name == OURS_PURE:
                    pure_turn(False)
    return best


def median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def serialization(parse_message: Callable[[bytes], Any], data: bytes,
                  seconds: float) -> list[float]:
    """Rates of: parse only, bytes() of an unmodified message, bytes() after a Via was pushed
    (re-serialized each time), and parse + push a Via + bytes()."""
    msg = parse_message(data)
    edited = parse_message(data)
    edited.add("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKproxy1", first=True)

    def edit_ser() -> bytes:
        edited._raw = None  # force re-serialization each time
        return bytes(edited)

    def full() -> bytes:
        m = parse_message(data)
        m.add("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKproxy1", first=True)
        return bytes(m)

    return [rate(lambda: parse_message(data), seconds), rate(lambda: bytes(msg), seconds),
            rate(edit_ser, seconds), rate(full, seconds)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3, help="interleaving turns (x4)")
    ap.add_argument("--seconds", type=float, default=2.0, help="per library and message")
    ap.add_argument("--runs", type=int, default=3, help="whole measurements (median, range)")
    args = ap.parse_args(argv)
    from rvoip_sansio.sip import _parser

    if _parser.NATIVE is None:
        print("# rvoip-sansio: C accelerator not loaded (not built or RVOIP_PURE set): "
              "both rvoip columns are the pure path", file=sys.stderr)
    readers: dict[str, Reader] = {}
    for name, factory in LIBRARIES.items():
        try:
            readers[name] = factory()
        except (ImportError, AttributeError) as exc:
            print(f"# {name}: not importable ({exc}); skipped", file=sys.stderr)
    samples = {label: (DATA / f).read_bytes() for label, f in MESSAGES.items()}
    # Every reader must extract the same facts as ours before anything is timed (pyVoIP
    # gives the CSeq number as text and "" for an absent tag: compared as text).
    usable: dict[str, dict[str, Reader]] = {}
    for label, data in samples.items():
        expected = [str(v or "") for v in readers[OURS](data)]
        usable[label] = {}
        for name, read in readers.items():
            try:
                got = read(data)
            except Exception as exc:  # a peer that cannot parse a sample is reported, not timed
                print(f"# {name} fails on {label}: {exc!r}", file=sys.stderr)
                continue
            if [str(v or "") for v in got] != expected:
                print(f"# {name} reads {got!r} from {label}, not {expected!r}: not timed",
                      file=sys.stderr)
                continue
            usable[label][name] = read
    runs: list[dict[tuple[str, str], float]] = []
    for _ in range(args.runs):
        best: dict[tuple[str, str], float] = {}
        gc.collect()
        for label, data in samples.items():
            fns: dict[str, Callable[[], object]] = {
                name: (lambda r, d: lambda: r(d))(read, data)
                for name, read in usable[label].items()}
            for name, r in interleaved(fns, args.seconds, args.rounds * 4).items():
                best[(label, name)] = r
        runs.append(best)

    names = list(readers)
    print(f"## Parse + read top Via branch, CSeq, Call-ID, From tag, To tag (messages/s; fastest"
          f" batch of 100, libraries interleaved; median of {args.runs} runs)\n")
    print("| message | " + " | ".join(names) + " | rvoip / fastest peer | rvoip pure / fastest"
          " peer |")
    print("|---" * (len(names) + 3) + "|")
    for label in samples:
        cells = []
        for n in names:
            values = [run[(label, n)] for run in runs if (label, n) in run]
            cells.append(f"{median(values):,.0f}" if values else "fails")
        ratios: dict[str, list[float]] = {OURS: [], OURS_PURE: []}
        for run in runs:
            peers = [v for (lab, n), v in run.items() if lab == label and n not in ratios]
            for ours in ratios:
                if peers and (label, ours) in run:
                    ratios[ours].append(run[(label, ours)] / max(peers))
        summary = [f"{median(r):.1f}x ({min(r):.1f}-{max(r):.1f})" if r else "n/a"
                   for r in ratios.values()]
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(summary) + " |")

    print("\n## rvoip-sansio serialization (messages/s; C: with the accelerator, pure: without)"
          "\n")
    print("| message | path | parse only | bytes() unmodified | bytes() after edit (new Via pushed)"
          " | parse+edit+bytes() |")
    print("|---|---|---|---|---|---|")
    for path in ("C", "pure"):
        parse_message = _parser.parse_message_pure if path == "pure" else _parser.parse_message
        if path == "pure":
            pure_turn(True)
        try:
            for label, data in samples.items():
                print(f"| {label} | {path} | " + " | ".join(
                    f"{r:,.0f}" for r in serialization(parse_message, data, args.seconds / 2))
                    + " |")
        finally:
            if path == "pure":
                pure_turn(False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
