"""The optional C accelerator (rvoip_sansio/sip/_sip_native.c) against the pure parser.

Whatever the accelerator returns must be what the pure ``parse_message`` returns: every
accessor's value or ParseError (reason and offset), the serialization, and the same after
edits. Checked on every RFC 4475 / RFC 5118 torture message and sample, on hypothesis
mutations of them, and on random header sections built from values near the edges of the C
grammar (parameters that are prefixes of the captured ones, out-of-range numbers, quotes,
brackets...). The rest of tests/sip runs on both paths too (``sip_path`` in conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.sip import Message, NameAddr, Request, Response, Via, _parser, parse_message
from tests.sip.conftest import native_module
from tests.sip.test_fuzz import ACCESSORS, MESSAGES, mutate, sip_text

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

READS: list[Callable[[Message], object]] = ACCESSORS + [
    lambda m: [(v.branch, str(v), v.transport, v.host, v.port, v.params) for v in m.via],
    lambda m: (m.top_via.branch, str(m.top_via), m.top_via.sent_by, m.top_via.rport,
               m.top_via.has_rport, m.top_via.ttl, m.top_via.params),
    lambda m: (m.from_.tag, str(m.from_), m.from_.uri_text, m.from_.display_name,
               m.from_.params),
    lambda m: (m.to.tag, str(m.to), m.to.display_name, m.to.uri, m.to.params),
    lambda m: (m.cseq.number, m.cseq.method, m.cseq), lambda m: m.call_id,
    lambda m: m.get("call-id"), lambda m: m.body, lambda m: m.version, lambda m: repr(m),
    lambda m: (m.status_code, m.reason) if isinstance(m, Response) else
    (m.method, m.uri_text) if isinstance(m, Request) else None, lambda m: m.header_lines,
]


@pytest.fixture(scope="module")
def native() -> Any:
    return native_module()


def outcome(read: Callable[[Message], object], msg: Message) -> object:
    try:
        value = read(msg)
    except ParseError as exc:
        return ("error", exc.reason, exc.offset)
    return repr(value)


def agree(native: Any, data: bytes) -> bool:
    """Native and pure parse ``data`` alike; True when the native fast path took it."""
    pure = _parser.parse_message_pure
    try:
        expected = pure(data)
    except ParseError as exc:
        with pytest.raises(ParseError) as info:
            native.parse_message(data)
        assert (info.value.reason, info.value.offset) == (exc.reason, exc.offset)
        return False
    got = native.parse_message(data)
    fast = got._groups is None and got._text is not None  # built in C (the regex sets _groups)
    assert type(got) is type(expected)
    for read in READS:
        assert outcome(read, got) == outcome(read, expected)
    assert bytes(got) == bytes(expected)
    for msg in (got, expected):
        msg.add("Via", "SIP/2.0/TCP p.example.com;branch=z9hG4bKp", first=True)
        msg.add("X-Added", "1")
    assert bytes(got) == bytes(expected)
    for read in READS:
        assert outcome(read, got) == outcome(read, expected)
    return fast


def test_torture_messages_and_samples_agree(native: Any) -> None:
    fast = [agree(native, data) for data in MESSAGES]
    # The samples and most valid torture messages take the C path (it is really exercised).
    assert sum(fast) >= 20


def test_samples_take_the_fast_path(native: Any) -> None:
    from tests.conftest import DATA

    for path in sorted((DATA / "sip").glob("*.sip")):
        msg = native.parse_message(path.read_bytes())
        assert msg._groups is None and msg._text is not None
        # every hot cache filled in C
        assert None not in (msg._c_cseq, msg._c_top_via, msg._c_call_id, msg._c_from,
                            msg._c_to)


@FUZZ
@given(st.sampled_from(MESSAGES),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)),
                max_size=8))
def test_mutated_messages_agree(data: bytes, ops: list[tuple[int, int, int]]) -> None:
    agree(native_module(), mutate(data, ops))


# Values at the edges of the C grammar (each is read by one of the C value readers).
EDGE_VIA_VALUES = [
    "SIP/2.0/UDP h.example.com:5060;branch=z9hG4bK1;rport", "SIP/2.0/udp 192.0.2.1",
    "SIP/2.0/UDP h;rportx=1", "SIP/2.0/UDP h;rport=", "SIP/2.0/UDP h;rport=123456",
    "SIP/2.0/UDP h;rport=65536", "SIP/2.0/UDP h;rport=65535;rport", "SIP/2.0/UDP h:65536",
    "SIP/2.0/UDP h:0", "SIP/2.0/UDP h:123456", "SIP/2.0/UDP h:", "SIP/2.0/UDP h;branch=",
    "SIP/2.0/UDP h;branch", "SIP/2.0/UDP h;branchx", "SIP/2.0/UDP h;branch=a;branch=b",
    "SIP/2.0/UDP h;received=1.2.3.4", "SIP/2.0/UDP h;received=1.2.3.4.5",
    "SIP/2.0/UDP h;received=1234.1.1.1", "SIP/2.0/UDP h;received=h", "SIP/2.0/UDP h;ttl=255",
    "SIP/2.0/UDP h;ttl=256", "SIP/2.0/UDP h;ttl=1000", "SIP/2.0/UDP h;ttl", "SIP/2.0/UDP h;TTL=1",
    "SIP/2.0/UDP h;Branch=1", "SIP/2.0/UDP h;x=", "SIP/2.0/UDP h;x=\"q\"", "SIP/2.0/UDP a-.b",
    "SIP/2.0/UDP a.b.", "SIP/2.0/UDP a..b", "SIP/2.0/UDP -a", "SIP/2.0/UDP [::1]:5060",
    "SIP/2.0/UDP h , SIP/2.0/TCP g", "SIP/2.0/UDP h,", "SIP/2.0/UDP h ;x", "SIP/2.0/UDP  h",
    "SIP/2.0/UDP\th", "SIP/2.0 /UDP h", "sip/2.0/UDP h", "SIP/2.0/UDP h;branch=a\t",
]
EDGE_NAME_ADDR_VALUES = [
    '"A" <sip:a@b>;tag=1', '"A"<sip:a@b>', '"A\\"" <sip:a@b>', '"A  <sip:a@b>',
    'A B <sip:a@b>', 'A  B <sip:a@b>', 'A <sip:a@b>;tag', 'A <sip:a@b>;tag=',
    'A <sip:a@b>;tagx=1', 'A <sip:a@b>;tag=1;tag=2', "<sip:a@b>", "<>", "<sip:a b>",
    "sip:a@b;tag=2", "sip:a@b?x", "sip:a@b,c", "sip:", "1sip:a", "a<sip:b>", "<sip:a>x",
    "<sip:a> ;tag=1", "<sip:a>;tag=1 ", "<sip:a>;Tag=1", "<sip:a>;x=\"y\"", "A <sip:a@b",
    "tel:+1-201-555-0123", '"" <sip:a>', "A\t<sip:a>", "<sip:a>;lr;tag=t", "<sip:a>,<sip:b>",
]
EDGE_OTHER_VALUES = [
    "12 INVITE", "12  INVITE", "12\tINVITE ", "2147483647 BYE", "2147483648 BYE",
    "12345678901 BYE", "1 BYE x", "INVITE", "cid@h", " cid@h ", "c id", "c\x0bid", "\x0ccid",
    "0", " 0 ", "00", "-1", "1 1", "", " ",
]
EDGE_VIA, EDGE_NAME_ADDR, EDGE_OTHER = (st.sampled_from(v) for v in (
    EDGE_VIA_VALUES, EDGE_NAME_ADDR_VALUES, EDGE_OTHER_VALUES))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["Via", "v", "VIA", "From", "f", "To", "t", "CSeq",
                                           "cseq", "Call-ID", "i", "l", "Content-Length",
                                           "X-A", "Via-X", "To "]),
                          EDGE_VIA | EDGE_NAME_ADDR | EDGE_OTHER | sip_text), max_size=9),
       st.sampled_from(["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "SIP/2.0 180",
                        "SIP/2.0 200 ", "BYE sip: SIP/2.0", "x sip:a SIP/2.0",
                        "SIP/2.0 099 x", "INVITE sip:a@b SIP/2.1", "INVITE  sip:a SIP/2.0"]),
       st.sampled_from([b"", b"body", b"\xff\xfe"]), st.integers(-1, 6))
def test_random_header_sections_agree(headers: list[tuple[str, str]], start: str, body: bytes,
                                      length: int) -> None:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    if length >= 0:
        lines += f"Content-Length: {length}\r\n"
    data = (start + "\r\n" + lines + "\r\n").encode("utf-8", "surrogatepass") + body
    agree(native_module(), data)


def test_edge_values_take_the_c_readers(native: Any) -> None:
    """The edge values above do reach the C value readers: both results (filled cache or
    left to the accessor) occur for each header."""
    seen: dict[str, set[bool]] = {}
    for name, values in (("Via", EDGE_VIA_VALUES), ("From", EDGE_NAME_ADDR_VALUES),
                         ("CSeq", EDGE_OTHER_VALUES)):
        for value in values:
            data = (f"OPTIONS sip:a SIP/2.0\r\n{name}: {value}\r\n\r\n").encode()
            msg = native.parse_message(data)
            agree(native, data)
            if msg._groups is None:
                slot = {"Via": "_c_top_via", "From": "_c_from", "CSeq": "_c_cseq"}[name]
                seen.setdefault(name, set()).add(getattr(msg, slot) is not None)
    assert seen == {"Via": {True, False}, "From": {True, False}, "CSeq": {True, False}}


def test_accessors_stay_properties(native: Any) -> None:
    """Read-only as before (the same error), the property on the class, recomputed after an
    edit, and the pure getter when the accelerator is switched off."""
    data = b"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 2 BYE\r\n" \
           b"From: <sip:a@b>;tag=f\r\nTo: <sip:c@d>;tag=t\r\nCall-ID: c\r\n\r\n"
    msg = native.parse_message(data)
    for name in ("cseq", "top_via", "call_id", "from_", "to"):
        assert isinstance(getattr(Message, name), property)
        with pytest.raises(AttributeError) as info:
            setattr(msg, name, None)
        pure = _parser.parse_message_pure(data)
        with pytest.raises(AttributeError) as info_pure:
            getattr(Message, name).__set__(pure, None)  # the property itself
        assert str(info.value) == str(info_pure.value)
    assert isinstance(Via.branch, property) and isinstance(NameAddr.tag, property)
    assert (msg.cseq.number, msg.top_via.branch, msg.from_.tag, msg.to.tag) == (2, "z9hG4bK1",
                                                                                "f", "t")
    msg.set("CSeq", "3 BYE")
    msg.set("To", "<sip:c@d>;tag=u")
    assert (msg.cseq.number, msg.to.tag) == (3, "u")
    built = Via("UDP", "h", None, {"branch": "z9hG4bK2"})
    assert built.branch == "z9hG4bK2" and NameAddr("sip:a", params={"tag": "x"}).tag == "x"
    native.set_enabled(False)
    try:
        assert parse_message(data)._groups is not None  # the pure (regex) path
        assert parse_message(data).cseq.number == 2
    finally:
        native.set_enabled(True)


def test_bytearray_and_memoryview_go_to_the_pure_path(native: Any) -> None:
    data = MESSAGES[-1]
    for value in (bytearray(data), memoryview(data)):
        assert bytes(native.parse_message(value)) == data
    with pytest.raises(ParseError):
        native.parse_message(b"")


def test_rvoip_pure_forces_the_pure_path() -> None:
    code = ("from rvoip_sansio.sip import _parser, parse_message, Message;"
            "print(_parser.NATIVE is None, parse_message is _parser.parse_message_pure,"
            " type(Message.__dict__['cseq']).__name__)")
    env = {k: v for k, v in os.environ.items() if k != "RVOIP_PURE"} | {"RVOIP_PURE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "property"]


# ---- hostile inputs and misuse: never a crash, a leak or another result -----------------


def _samples() -> list[bytes]:
    from tests.conftest import DATA

    return [path.read_bytes() for path in sorted((DATA / "sip").glob("*.sip"))]


def test_every_prefix_and_nul_agree(native: Any) -> None:
    """Datagrams cut at every offset (the C scans rely on the NUL after a bytes object's
    end), and a NUL octet at every offset (NUL is no stop character in C values)."""
    for data in _samples():
        for k in range(len(data) + 1):
            agree(native, data[:k])
        hot = data.index(b"\r\n\r\n")  # NULs in the header section are what the C code sees
        for k in range(0, hot, 3):
            agree(native, data[:k] + b"\x00" + data[k + 1:])


def test_big_header_sections_agree(native: Any) -> None:
    head = _samples()[0].split(b"\r\n\r\n")[0]
    for data in (head + b"\r\nX-H: v" * 20_000 + b"\r\n\r\n",
                 head + b"\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa" * 5_000 + b"\r\n\r\n",
                 head + b"\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n",
                 head.replace(b"branch=", b"branch=" + b"z" * 100_000) + b"\r\n\r\n",
                 head + b"\r\nContent-Length: 9999999999\r\n\r\nbody",
                 head + b"\r\nContent-Length: 0000000004\r\n\r\nbodyextra"):
        assert not agree(native, data) or len(data) < 2_000_000


def test_odd_argument_types(native: Any) -> None:
    """Anything but exact bytes goes to the pure path, which parses a plain copy of the
    octets: a bytes subclass's overridden methods are not called and ``bytes(msg)`` is
    exactly bytes; an int is a TypeError (not bytes(10**9) zeros), as on the pure path."""

    class Odd(bytes):
        def decode(self, *args: Any, **kwargs: Any) -> str:
            raise AssertionError("called")

        def find(self, *args: Any, **kwargs: Any) -> int:
            raise AssertionError("called")

    data = _samples()[0]
    expected = _parser.parse_message_pure(data)
    want = [outcome(read, expected) for read in READS]
    for value in (Odd(data), bytearray(data), memoryview(data),
                  memoryview(data + data)[: len(data)], memoryview(bytearray(data))):
        for parse in (native.parse_message, _parser.parse_message_pure):
            msg = parse(value)
            assert type(bytes(msg)) is bytes and bytes(msg) == data
            assert [outcome(read, msg) for read in READS] == want
    buf = bytearray(data)
    msg = native.parse_message(buf)
    buf[:] = b"x"  # the caller's buffer changes: the message does not
    assert bytes(msg) == data and msg.call_id == expected.call_id
    wrongs: list[Any] = [10**9, "INVITE sip:a SIP/2.0\r\n\r\n", None]
    for wrong in wrongs:
        for parse in (native.parse_message, _parser.parse_message_pure):
            with pytest.raises(TypeError):
                parse(wrong)


def _stale_build(native: Any) -> None:
    """Skip (locally; fail under CI) when the loaded build predates its source: the fix
    a test checks is not in it yet."""
    so = Path(native.__file__)
    source = so.parent / "_sip_native.c"
    if source.exists() and so.stat().st_mtime < source.stat().st_mtime:
        reason = f"{so.name} is older than {source.name}: rebuild (./scripts/setup)"
        if os.environ.get("CI", "") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def test_failed_init_changes_nothing(native: Any) -> None:
    """_init checks everything before it changes anything: a refused call leaves the
    accelerator working (it used to leave it without a fallback, every parse then a
    RuntimeError)."""
    from rvoip_sansio.sip._headers import CSeq

    data = _samples()[0]
    args = _parser.native_init_args()
    slots = args[-1]
    bad = dict(slots)
    del bad["Via._lazy"]
    wrong = slots | {"Message._text": vars(CSeq)["number"]}
    try:
        for init in (args[:-1] + (bad,), args[:-1] + (wrong,), (Response, Request) + args[2:]):
            with pytest.raises(TypeError):
                native._init(*init)
            try:
                msg = native.parse_message(data)
            except RuntimeError:
                _stale_build(native)
                raise
            assert msg._groups is None and msg._text is not None  # still the C path
            assert msg.cseq == _parser.parse_message_pure(data).cseq
    finally:  # whatever happened, the module is set up again for the tests that follow
        native._init(*args)


def test_init_from_the_fallback(native: Any) -> None:
    """A fallback that sets the module up again while it runs (the C code holds it for the
    call: it may be the last reference)."""
    import functools

    args = _parser.native_init_args()
    calls = []

    def reinit(data: bytes) -> Message:
        calls.append(data)
        native._init(*args)
        return _parser.parse_message_pure(data)

    # (the partial is the module's only reference)
    native._init(*args[:5], functools.partial(reinit), args[6])
    try:
        assert bytes(native.parse_message(b"\r\n" + _samples()[0])) == _samples()[0]
        assert len(calls) == 1
    finally:
        native._init(*args)


def test_fast_property_descriptors_are_collected(native: Any) -> None:
    """A class holding a C descriptor (which refers back to the class) is freed by the
    cycle collector, and the descriptor answers as its property does."""
    import gc
    import weakref

    class Holder:
        __slots__ = ("_v",)
        _v: object

        @property
        def v(self) -> object:
            return "computed"

    setattr(Holder, "v", native.fast_property(vars(Holder)["v"], vars(Holder)["_v"]))
    h = Holder()
    assert h.v == "computed"
    h._v = "cached"
    assert getattr(h, "v") == "cached" and isinstance(Holder.v, property)
    ref = weakref.ref(Holder)
    del Holder, h
    gc.collect()
    assert ref() is None
