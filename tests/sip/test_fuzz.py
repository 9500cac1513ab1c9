"""Hypothesis fuzzing of every parser in rvoip_sansio.sip: random and mutated input gives a
value or ParseError, never another exception; and parsing stays linear in the input size."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.sip import (
    Message,
    StreamFramer,
    make_response,
    parse_cseq,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
    split_list,
)
from rvoip_sansio.sip._headers import parse_params
from tests.conftest import DATA

pytestmark = pytest.mark.usefixtures("sip_path")  # native and pure parser (conftest)

CORPUS = sorted((DATA / "rfc4475").glob("*.dat")) + sorted((DATA / "rfc5118").glob("*.dat")) \
    + sorted((DATA / "sip").glob("*.sip"))
MESSAGES = [p.read_bytes() for p in CORPUS]
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Characters that matter to SIP grammar, to steer random text towards interesting shapes.
SIP_ALPHABET = st.sampled_from(list('sip:@;=,<>"\\ \t\r\n[]:.?&%0123456789abcdefzZ/-_+*!~\'')
                               + ["\u00b2", "\u0661", "\u00e9", "\x00"])
sip_text = st.text(alphabet=SIP_ALPHABET, max_size=200) | st.text(max_size=200)

ACCESSORS: list[Callable[[Message], object]] = [
    lambda m: m.via, lambda m: m.top_via, lambda m: m.cseq, lambda m: m.call_id,
    lambda m: m.from_, lambda m: m.from_.uri, lambda m: m.to.tag, lambda m: m.to.uri,
    lambda m: [c.uri for c in m.contact], lambda m: m.contact_star,
    lambda m: [r.uri for r in m.route], lambda m: [r.uri for r in m.record_route],
    lambda m: m.max_forwards, lambda m: m.content_type, lambda m: m.content_length,
    lambda m: m.get_all("accept"), lambda m: m.headers, lambda m: m.validate(),
    lambda m: getattr(m, "uri", None),
]


def exercise(msg: Message) -> None:
    """Every accessor gives a value or ParseError; serialization always works."""
    for accessor in ACCESSORS:
        try:
            accessor(msg)
        except ParseError:
            pass
    out = bytes(msg)
    assert isinstance(out, bytes)


def mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in ops:
        if not buf:
            break
        pos %= len(buf)
        if kind == 0:
            buf[pos] = value
        elif kind == 1:
            del buf[pos:pos + 1 + value % 8]
        elif kind == 2:
            buf[pos:pos] = bytes([value]) * (1 + value % 5)
        else:
            buf[pos:pos] = b"\r\n" if value % 2 else b";,\"<"[value % 4:value % 4 + 1]
    return bytes(buf)


@FUZZ
@given(st.sampled_from(MESSAGES),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)),
                max_size=8))
def test_mutated_torture_messages(data: bytes, ops: list[tuple[int, int, int]]) -> None:
    mutated = mutate(data, ops)
    try:
        msg = parse_message(mutated)
    except ParseError as exc:
        assert 0 <= exc.offset <= len(mutated) + 1
        return
    exercise(msg)
    if msg._raw is not None:  # unmodified: identical to what was parsed
        assert mutated.lstrip(b"\r\n").startswith(bytes(msg))


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    try:
        exercise(parse_message(data))
    except ParseError:
        pass


@FUZZ
@given(st.lists(sip_text, max_size=6), st.sampled_from(["INVITE sip:a@b SIP/2.0",
                                                          "SIP/2.0 200 OK"]))
def test_random_header_values(values: list[str], start: str) -> None:
    names = ["Via", "From", "To", "Call-ID", "CSeq", "Contact", "Route", "Max-Forwards"]
    lines = [f"{names[i % len(names)]}: {v}" for i, v in enumerate(values)]
    data = (start + "\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass")
    try:
        msg = parse_message(data)
    except ParseError:
        return
    exercise(msg)
    if isinstance(msg, Message) and start.startswith("INVITE"):
        try:
            make_response(msg, 200, to_tag="x")  # type: ignore[arg-type]
        except ParseError:
            pass


@pytest.mark.parametrize("parser", [parse_uri, parse_via, parse_cseq, parse_name_addr,
                                    parse_params, split_list])
@FUZZ
@given(text=sip_text)
def test_value_parsers(parser: Callable[[str], object], text: str) -> None:
    try:
        result = parser(text)
    except ParseError:
        return
    str(result)


@FUZZ
@given(st.sampled_from(MESSAGES), st.lists(st.integers(1, 50), min_size=1, max_size=40),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)),
                max_size=4))
def test_framer_any_chunking(data: bytes, cuts: list[int],
                             ops: list[tuple[int, int, int]]) -> None:
    stream = b"\r\n\r\n" + mutate(data, ops) + data
    framer = StreamFramer()
    pos = 0
    try:
        for size in cuts * 40:
            if pos >= len(stream):
                break
            for item in framer.feed(stream[pos:pos + size]):
                if isinstance(item, Message):
                    exercise(item)
            pos += size
    except ParseError:
        pass


def _slowest_ratio(make: Callable[[int], bytes], work: Callable[[bytes], object]) -> float:
    def best(n: int) -> float:
        data = make(n)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            work(data)
            times.append(time.perf_counter() - t0)
        return min(times)
    return best(16) / max(best(1), 1e-6)


def _parse_all(data: bytes) -> None:
    try:
        exercise(parse_message(data))
    except ParseError:
        pass


HEAD = b"INVITE sip:a@b SIP/2.0\r\n"
ADVERSARIAL: dict[str, Callable[[int], bytes]] = {
    "many headers": lambda n: HEAD + b"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" * (400 * n)
    + b"\r\n",
    "folded lines": lambda n: HEAD + b"Subject: a\r\n" + b" b\r\n" * (400 * n) + b"\r\n",
    "open quotes": lambda n: HEAD + b"Contact: " + b'"\\"' * (2000 * n) + b"\r\n\r\n",
    "open brackets": lambda n: HEAD + b"Route: " + b"<sip:a," * (2000 * n) + b"\r\n\r\n",
    "semicolons": lambda n: HEAD + b"From: <sip:a@b>" + b" ; " * (2000 * n) + b"x\r\n\r\n",
    "spaces": lambda n: HEAD + b"To: a" + b" a" * (2000 * n) + b"\r\n\r\n",
    "commas": lambda n: HEAD + b"Contact: " + b"<sip:a@b>," * (1000 * n) + b"\r\n\r\n",
    "no end": lambda n: HEAD + b"X: y\r\n" * (1000 * n),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_parse_time_is_roughly_linear(name: str) -> None:
    # 16x the input may cost 16x the time; a quadratic parser would take ~256x. The bound is
    # loose on purpose (shared, noisy machine): it only catches super-linear behaviour.
    ratio = _slowest_ratio(ADVERSARIAL[name], _parse_all)
    assert ratio < 80, f"{name}: 16x input took {ratio:.0f}x the time"


def test_framer_slow_drip_is_linear() -> None:
    def drip(data: bytes) -> None:
        framer = StreamFramer(max_message_size=10**7, max_headers=10**6)
        for i in range(0, len(data), 7):
            framer.feed(data[i:i + 7])
    ratio = _slowest_ratio(lambda n: HEAD + b"X-Long: yyyyyyyy\r\n" * (200 * n), drip)
    assert ratio < 80


def _outcome(accessor: Callable[[Message], object], msg: Message) -> object:
    try:
        value = accessor(msg)
    except ParseError as exc:
        return ("error", exc.reason)
    return repr(value)


def _agree(data: bytes) -> None:
    # parse_message checks usual messages with one regex and reads the hot headers from its
    # groups; _parse_general splits the lines and parses every value with the full grammar.
    # Whatever the fast path accepts, it must read exactly as the general parser does.
    from rvoip_sansio.sip._parser import _parse_general

    body = data.lstrip(b"\r\n") if data[:2] == b"\r\n" else data  # as parse_message does
    skip = len(data) - len(body)
    try:
        fast = parse_message(data)
    except ParseError as exc:
        with pytest.raises(ParseError) as info:
            _parse_general(body, skip)
        assert (info.value.reason, info.value.offset) == (exc.reason, exc.offset)
        return
    general = _parse_general(body, skip)
    for accessor in ACCESSORS + [lambda m: [(v.branch, str(v)) for v in m.via],
                                 lambda m: (m.top_via.branch, str(m.top_via)),
                                 lambda m: (m.from_.tag, str(m.from_), m.from_.uri_text),
                                 lambda m: (m.to.tag, str(m.to), m.to.display_name),
                                 lambda m: m.get("call-id"), lambda m: m.body]:
        assert _outcome(accessor, fast) == _outcome(accessor, general)
    assert bytes(fast) == bytes(general)
    # Edits (a raw-mode message splices lines into its text) serialize alike too.
    for msg in (fast, general):
        msg.add("Via", "SIP/2.0/TCP p.example.com;branch=z9hG4bKp", first=True)
        msg.add("X-Added", "1")
    assert bytes(fast) == bytes(general)
    for msg in (fast, general):
        msg.body = b"x" * 3
        msg.add("Contact", "<sip:c@example.com>", first=True)
    assert bytes(fast) == bytes(general)
    for accessor in ACCESSORS:
        assert _outcome(accessor, fast) == _outcome(accessor, general)


@FUZZ
@given(st.sampled_from(MESSAGES),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)),
                max_size=8))
def test_fast_path_agrees_with_general_parser(data: bytes,
                                              ops: list[tuple[int, int, int]]) -> None:
    _agree(mutate(data, ops))


HOT_VALUE = st.sampled_from([
    "SIP/2.0/UDP h.example.com:5060;branch=z9hG4bK1;rport",
    "SIP/2.0/udp 192.0.2.1;received=1.2.3.4", "SIP/2.0/TCP a-b.c.;branch=x;ttl=9;maddr=m",
    '"A" <sip:a@b>;tag=1', "B <sip:b@c;lr>;tag=x;foo", "sip:a@b;tag=2", "12 INVITE", "cid@h",
    ";branch=1;rport=70000;ttl=300", "<sip:x>;tag=1;tag", "1 BYE x", " , ", "0"])


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["Via", "v", "VIA", "From", "f", "To", "t", "CSeq",
                                           "cseq", "Call-ID", "i", "l", "Content-Length",
                                           "X-A"]),
                          HOT_VALUE | sip_text), max_size=10),
       st.sampled_from(["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK"]))
def test_fast_path_agrees_on_random_headers(headers: list[tuple[str, str]], start: str) -> None:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    _agree((start + "\r\n" + lines + "\r\n").encode("utf-8", "surrogatepass"))
