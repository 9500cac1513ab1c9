"""Typed accessors of the other common headers, checked on the examples the RFCs print
(RFC 3261 §20, RFC 3262, RFC 3326, RFC 3325, RFC 3515, RFC 3891, RFC 3892, RFC 4028,
RFC 6665) and on malformed values (ParseError with the offset of the value in the message),
plus hypothesis fuzzing of every value parser."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.sip import Message, SipUri, TelUri, parse_message
from rvoip_sansio.sip import _hdrext as hx
from rvoip_sansio.sip import _hdrvalues as hv

pytestmark = pytest.mark.usefixtures("sip_path")  # native and pure parser (conftest)

HEAD = (b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
        b"Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\n"
        b"From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        b"Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\n")


def msg(*lines: str) -> Message:
    data = HEAD + "".join(line + "\r\n" for line in lines).encode() + b"Content-Length: 0\r\n\r\n"
    return parse_message(data)


def both_modes(*lines: str) -> list[Message]:
    """The message in raw mode and in line mode (after an edit), which find headers
    differently."""
    edited = msg(*lines)
    edited.add("X-Edit", "1")
    return [msg(*lines), edited]


def test_rfc3261_section20_examples() -> None:
    for m in both_modes(
            "Expires: 5", "Min-Expires: 60", "Date: Sat, 13 Nov 2010 23:29:00 GMT",
            "Require: 100rel", "Proxy-Require: foo", "Supported: 100rel", "Unsupported: foo",
            "Allow: INVITE, ACK, OPTIONS, CANCEL, BYE",
            "Accept: application/sdp;level=1, application/x-private, text/html",
            "Content-Disposition: session", "Content-Encoding: gzip",
            "Retry-After: 120 (I'm in a meeting)", "Timestamp: 54",
            "Server: HomeServer v2", "User-Agent: Softphone Beta1.5"):
        assert m.expires == 5 and m.min_expires == 60
        assert m.date is not None
        assert m.date.datetime == dt.datetime(2010, 11, 13, 23, 29, tzinfo=dt.timezone.utc)
        assert m.date.text == "Sat, 13 Nov 2010 23:29:00 GMT"
        assert m.require == ["100rel"] and m.proxy_require == ["foo"]
        assert m.supported == ["100rel"] and m.unsupported == ["foo"]
        assert m.allow == ["INVITE", "ACK", "OPTIONS", "CANCEL", "BYE"]
        assert [(a.mime, a.params) for a in m.accept] == [
            ("application/sdp", {"level": "1"}), ("application/x-private", {}),
            ("text/html", {})]
        cd = m.content_disposition
        assert cd is not None and cd.type == "session" and cd.handling == "required"
        assert m.content_encoding == ["gzip"]
        ra = m.retry_after
        assert ra is not None and (ra.seconds, ra.comment, ra.duration) == (
            120, "I'm in a meeting", None)
        ts = m.timestamp
        assert ts is not None and ts.time == 54.0 and ts.delay is None
        assert [(p.name, p.version) for p in m.server or []] == [("HomeServer", None),
                                                                 ("v2", None)]
        assert [str(p) for p in m.user_agent or []] == ["Softphone", "Beta1.5"]


def test_absent_headers() -> None:
    m = msg()
    assert (m.expires, m.date, m.retry_after, m.event, m.rack, m.replaces, m.refer_to,
            m.user_agent, m.media_type, m.session_expires, m.min_se) == (None,) * 11
    assert (m.require, m.supported, m.allow, m.reasons, m.privacy,
            m.p_asserted_identity, m.allow_events) == ([],) * 7


def test_retry_after_duration_and_list_headers_over_lines() -> None:
    m = msg("Retry-After: 18000;duration=3600", "k: timer", "Supported: 100rel, path",
            "Supported:", "Allow:", "e: gzip, tar")
    ra = m.retry_after
    assert ra is not None and (ra.seconds, ra.comment, ra.duration) == (18000, None, 3600)
    assert m.supported == ["timer", "100rel", "path"]      # compact form k, lines joined
    assert m.allow == []                                   # an empty Allow is allowed
    assert m.content_encoding == ["gzip", "tar"]           # compact form e


def test_nested_comment_and_quoted_pair() -> None:
    m = msg(r"Retry-After: 300 (busy (really \) busy));duration=10",
            "User-Agent: SIPimp.org/0.2.5 (curses)")
    ra = m.retry_after
    assert ra is not None and ra.comment == r"busy (really \) busy)" and ra.duration == 10
    ua = m.user_agent
    assert ua is not None and [(p.name, p.version, p.comment) for p in ua] == [
        ("SIPimp.org", "0.2.5", None), (None, None, "curses")]


def test_rfc4028_session_timer() -> None:
    m = msg("x: 4000;refresher=UAS", "Min-SE: 90;lr")
    se = m.session_expires
    assert se is not None and se.seconds == 4000 and se.refresher == "uas"
    assert m.min_se == 90


def test_rfc3262_rseq_rack() -> None:
    m = msg("RSeq: 988789", "RAck: 776656 1 INVITE")
    assert m.rseq == 988789
    rack = m.rack
    assert rack is not None and (rack.rseq, rack.cseq, rack.method) == (776656, 1, "INVITE")
    assert str(rack) == "776656 1 INVITE"


def test_rfc6665_event_headers() -> None:
    m = msg("o: foo; id=1234", "u: presence, presence.winfo, dialog",
            "Subscription-State: terminated;reason=noresource;retry-after=600")
    ev = m.event
    assert ev is not None and ev.package == "foo" and ev.id == "1234" and ev.templates == ()
    assert m.allow_events == ["presence", "presence.winfo", "dialog"]
    ss = m.subscription_state
    assert ss is not None and (ss.state, ss.reason, ss.retry_after, ss.expires) == (
        "terminated", "noresource", 600, None)
    ev2 = msg("Event: presence.winfo").event
    assert ev2 is not None and (ev2.package, ev2.templates, ev2.event_type) == (
        "presence", ("winfo",), "presence.winfo")
    ss2 = msg("Subscription-State: active;expires=3600").subscription_state
    assert ss2 is not None and (ss2.state, ss2.expires) == ("active", 3600)


def test_rfc3326_reason_examples() -> None:
    m = msg('Reason: SIP ;cause=200 ;text="Call completed elsewhere"',
            'Reason: Q.850 ;cause=16 ;text="Terminated"')
    assert [(r.protocol, r.cause, r.text) for r in m.reasons] == [
        ("SIP", 200, "Call completed elsewhere"), ("Q.850", 16, "Terminated")]
    both = msg('Reason: SIP;cause=580;text="Precondition Failure", Q.850;cause=47').reasons
    assert [(r.protocol, r.cause) for r in both] == [("SIP", 580), ("Q.850", 47)]


def test_rfc3325_identities() -> None:
    m = msg('P-Asserted-Identity: "Cullen Jennings" <sip:fluffy@cisco.com>',
            "P-Asserted-Identity: tel:+14085264000",
            "P-Preferred-Identity: sip:+14085264000@cisco.com;user=phone",
            "Privacy: id")
    pai = m.p_asserted_identity
    assert pai[0].display_name == "Cullen Jennings"
    assert isinstance(pai[0].uri, SipUri) and pai[0].uri.user == "fluffy"
    assert isinstance(pai[1].uri, TelUri) and pai[1].uri.number == "+14085264000"
    ppi = m.p_preferred_identity[0].uri
    # No header parameters in RFC 3325: ";user=phone" belongs to the addr-spec URI.
    assert isinstance(ppi, SipUri) and ppi.params == {"user": "phone"}
    assert m.privacy == ["id"]
    assert msg("Privacy: header;user; critical").privacy == ["header", "user", "critical"]


def test_rfc3515_rfc3891_rfc3892_refer() -> None:
    m = msg("Refer-To: <sip:bob@biloxi.example.com?Replaces=12345%40192.168.118.3%3B"
            "to-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
            'b: <sip:referrer@referrer.example>;cid="20398823.2UWQFN309shb3@referrer.example"',
            "Replaces: 98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff")
    refer_to = m.refer_to
    assert refer_to is not None and isinstance(refer_to.uri, SipUri)
    embedded = refer_to.uri.headers["Replaces"]
    assert embedded == "12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994"
    rep = hx.parse_replaces(embedded)
    assert (rep.call_id, rep.to_tag, rep.from_tag, rep.early_only) == (
        "12345@192.168.118.3", "12345", "5FFE-3994", False)
    by = m.referred_by
    assert by is not None and by.params["cid"] == '"20398823.2UWQFN309shb3@referrer.example"'
    r = m.replaces
    assert r is not None and (r.call_id, r.from_tag, r.to_tag) == (
        "98732@sip.example.com", "r33th4x0r", "ff87ff")
    early = msg("Replaces: abc;to-tag=1;from-tag=2;early-only").replaces
    assert early is not None and early.early_only
    assert msg("r: sip:alice@atlanta.example.com").refer_to is not None


def test_media_type_and_disposition() -> None:
    m = msg('c: multipart/mixed ; boundary="unique-boundary-1"',
            "Content-Disposition: signal;handling=optional",
            "Accept: */*;q=0.5, application/sdp;q=1")
    mt = m.media_type
    assert mt is not None and mt.mime == "multipart/mixed" and mt.boundary == "unique-boundary-1"
    cd = m.content_disposition
    assert cd is not None and cd.type == "signal" and cd.handling == "optional"
    assert [(a.mime, a.q) for a in m.accept] == [("*/*", 0.5), ("application/sdp", 1.0)]


def test_timestamp_with_delay() -> None:
    ts = msg("Timestamp: 54.123 0.5").timestamp
    assert ts is not None and ts.value == "54.123" and ts.delay_time == 0.5
    assert str(ts) == "54.123 0.5"


BAD = [
    ("Expires: soon", lambda m: m.expires, "Expires"),
    ("Expires: 4294967296", lambda m: m.expires, "out of range"),
    ("Min-Expires: -1", lambda m: m.min_expires, "Min-Expires"),
    ("Date: Fri, 01 Jan 2010 16:00:00 EST", lambda m: m.date, "Date"),   # RFC 4475 baddate
    ("Date: Sat, 31 Feb 2010 16:00:00 GMT", lambda m: m.date, "impossible"),
    ("Require:", lambda m: m.require, "empty"),
    ("Require: 100rel,,timer", lambda m: m.require, "option-tag"),
    ("Allow: INVITE BYE", lambda m: m.allow, "method"),
    ("Accept: application", lambda m: m.accept, "media type"),
    ("Accept: text/html;q=2", lambda m: m.accept, "q-value"),
    ("Content-Type: text/plain;charset", lambda m: m.media_type, "without a value"),
    ("Content-Disposition: ;handling=optional", lambda m: m.content_disposition, "Content-Disp"),
    ("Retry-After: 120 (unterminated", lambda m: m.retry_after, "comment"),
    ("Retry-After: 120;duration=x", lambda m: m.retry_after, "duration"),
    ("Session-Expires: 1800;refresher=proxy", lambda m: m.session_expires, "refresher"),
    ("RSeq: 0", lambda m: m.rseq, "RSeq"),
    ("RAck: 1 INVITE", lambda m: m.rack, "RAck"),
    ("Event: .foo", lambda m: m.event, "Event"),
    ("Subscription-State: active;expires=soon", lambda m: m.subscription_state, "expires"),
    ("Reason: SIP;cause=abc", lambda m: m.reasons, "cause"),
    ("Reason: SIP;text=unquoted", lambda m: m.reasons, "quoted"),
    ("P-Asserted-Identity: <sip:a@b>;tag=x", lambda m: m.p_asserted_identity, "parameters"),
    ("P-Asserted-Identity: not a uri", lambda m: m.p_asserted_identity, "identity"),
    ("Privacy: id, header", lambda m: m.privacy, "Privacy"),
    ("Replaces: abc;to-tag=1", lambda m: m.replaces, "from-tag"),
    ("Replaces: abc;to-tag=1;to-tag=2;from-tag=3", lambda m: m.replaces, "to-tag"),
    ("Timestamp: .5", lambda m: m.timestamp, "Timestamp"),
    ("User-Agent: foo, bar", lambda m: m.user_agent, "product"),
    ("Server: (open", lambda m: m.server, "comment"),
    ("Refer-To: <sip:a@b", lambda m: m.refer_to, ">"),
]


@pytest.mark.parametrize("line,read,words", BAD, ids=[b[0][:30] for b in BAD])
def test_bad_values_raise_parse_error_at_their_line(
        line: str, read: Callable[[Message], object], words: str) -> None:
    for m in both_modes(line):
        with pytest.raises(ParseError) as info:
            read(m)
        assert words in info.value.reason
        # The offset points into the header's own line (after the name and colon).
        data = bytes(m)
        start = data.find(line.split(":")[0].encode() + b":")
        assert start > 0
        end = data.find(b"\r\n", start)
        assert start < info.value.offset <= end


PARSERS: list[Callable[[str], object]] = [
    hv.parse_delta, hv.parse_date, hv.parse_token_list, hv.parse_media_type, hv.parse_accept,
    hv.parse_content_disposition, hv.parse_retry_after, hv.parse_session_expires,
    hv.parse_min_se, hv.parse_rseq, hv.parse_rack, hx.parse_event, hx.parse_event_types,
    hx.parse_subscription_state, hx.parse_refer_to, hx.parse_referred_by, hx.parse_reasons,
    hx.parse_identities, hx.parse_privacy, hx.parse_replaces, hv.parse_timestamp,
    hv.parse_products,
]
ALPHABET = st.sampled_from(list('abcSIP019 \t;=,.<>"\\()@:/*-_+!%~`\'?[]{}') + ["\u00e9"])
VALUE = st.text(alphabet=ALPHABET, max_size=120) | st.text(max_size=60)
SEEDS = ["Sat, 13 Nov 2010 23:29:00 GMT", "120 (I'm in a meeting);duration=3600",
         'SIP ;cause=200 ;text="Call completed elsewhere"', "776656 1 INVITE",
         "98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff",
         '"Cullen Jennings" <sip:fluffy@cisco.com>, tel:+14085264000',
         "application/sdp;level=1, text/html;q=0.5", "SIPimp.org/0.2.5 (curses)",
         "terminated;reason=noresource;retry-after=600", "presence.winfo;id=1", "54.1 0.5"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUE | st.sampled_from(SEEDS), cut=st.integers(0, 80), extra=VALUE)
def test_fuzz_value_parsers(value: str, cut: int, extra: str) -> None:
    """Random and mutated values give a value or ParseError, nothing else."""
    for text in (value, value[:cut] + extra + value[cut:]):
        for parse in PARSERS:
            try:
                parse(text)
            except ParseError as exc:
                assert isinstance(exc.offset, int) and 0 <= exc.offset <= len(text) + 1


ACCESSORS = ["expires", "min_expires", "date", "require", "proxy_require", "supported",
             "unsupported", "allow", "accept", "media_type", "content_disposition",
             "content_encoding", "retry_after", "timestamp", "user_agent", "server",
             "session_expires", "min_se", "rseq", "rack", "event", "allow_events",
             "subscription_state", "refer_to", "referred_by", "reasons",
             "p_asserted_identity", "p_preferred_identity", "privacy", "replaces"]
NAMES = ["Expires", "Min-Expires", "Date", "Require", "Proxy-Require", "k", "Unsupported",
         "Allow", "Accept", "c", "Content-Disposition", "e", "Retry-After", "Timestamp",
         "User-Agent", "Server", "x", "Min-SE", "RSeq", "RAck", "o", "u",
         "Subscription-State", "r", "b", "Reason", "P-Asserted-Identity",
         "P-Preferred-Identity", "Privacy", "Replaces"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), value=VALUE | st.sampled_from(SEEDS))
def test_fuzz_accessors_in_messages(name: str, value: str) -> None:
    clean = value.replace("\r", " ").replace("\n", " ")
    try:
        m = msg(f"{name}: {clean}")
    except ParseError:
        return
    for accessor in ACCESSORS:
        try:
            getattr(m, accessor)
        except ParseError as exc:
            assert 0 <= exc.offset <= len(bytes(m))


def test_linear_time_on_long_values() -> None:
    """Adversarial long values (deep comments, many commas) parse or fail quickly; a
    quadratic or exponential parser would take seconds here."""
    import time

    for text in ["(" * 50_000, "1 " + "(" * 50_000 + ")" * 50_000, "a," * 50_000,
                 '"' + "\\" * 50_000, "x;" * 50_000, "1" * 100_000 + " " + "2" * 100_000]:
        t0 = time.perf_counter()
        for parse in PARSERS:
            try:
                parse(text)
            except ParseError:
                pass
        assert time.perf_counter() - t0 < 5.0


def _rfc4475(name: str) -> Message:
    from tests.conftest import DATA

    return parse_message((DATA / "rfc4475" / f"{name}.dat").read_bytes())


def test_rfc4475_messages_through_the_typed_accessors() -> None:
    bext = _rfc4475("bext01")                    # §3.3.7: unknown extensions required
    assert bext.require == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert bext.proxy_require == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    semi = _rfc4475("semiuri")                   # §3.1.1.7: Accept folded over three lines
    assert [a.mime for a in semi.accept] == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
        "message/sip", "message/sipfrag"]
    mpart = _rfc4475("mpart01")                  # §3.1.1.11
    assert mpart.date is not None and mpart.date.datetime == dt.datetime(
        2005, 10, 15, 4, 44, 56, tzinfo=dt.timezone.utc)
    mt = mpart.media_type
    assert mt is not None and mt.boundary == "7a9cbec02ceef655"
    with pytest.raises(ParseError, match="Date"):
        _ = _rfc4475("baddate").date             # §3.1.2.12: EST, not GMT
    with pytest.raises(ParseError, match="out of range"):
        _ = _rfc4475("scalar02").expires         # §3.1.2.4: Expires of 100 digits
    with pytest.raises(ParseError, match="out of range"):
        _ = _rfc4475("scalarlg").retry_after     # §3.1.2.5: Retry-After overlarge


def test_replaces_counts_parameters_not_text_inside_quotes() -> None:
    r = hx.parse_replaces('abc@h;to-tag=1;from-tag=2;note=";to-tag=9"')
    assert (r.to_tag, r.from_tag, r.params["note"]) == ("1", "2", '";to-tag=9"')


TOKEN = st.text(alphabet="abcXYZ019-.!%*_+`'~", min_size=1, max_size=12)
DELTA = st.integers(0, 2**32 - 1)


def _nested(text: str) -> bool:
    """Parentheses properly nested (a comment's text, RFC 3261 §25.1; "())(" is not)."""
    depth = 0
    for c in text:
        depth += (c == "(") - (c == ")")
        if depth < 0:
            return False
    return depth == 0


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_built_values_round_trip_through_their_parsers(data: st.DataObject) -> None:
    """str() of a value built in code is the header text its parser reads back as the
    same value (the building side of the typed headers)."""
    se = hv.SessionExpires(data.draw(DELTA), data.draw(st.sampled_from([None, "uac", "uas"])))
    got_se = hv.parse_session_expires(str(se))
    assert (got_se.seconds, got_se.refresher) == (se.seconds, se.refresher)
    ra = hv.RetryAfter(data.draw(DELTA), data.draw(st.none() | st.text(
        alphabet="abc ()'!:019", max_size=20).filter(_nested)),
        data.draw(st.none() | DELTA))
    got_ra = hv.parse_retry_after(str(ra))
    assert (got_ra.seconds, got_ra.comment, got_ra.duration) == (ra.seconds, ra.comment,
                                                                   ra.duration)
    ss = hx.SubscriptionState(data.draw(st.sampled_from(["active", "pending", "terminated"])),
                              data.draw(st.none() | TOKEN.map(str.lower)),
                              data.draw(st.none() | DELTA), data.draw(st.none() | DELTA))
    got_ss = hx.parse_subscription_state(str(ss))
    assert (got_ss.state, got_ss.reason, got_ss.expires, got_ss.retry_after) == (
        ss.state, ss.reason, ss.expires, ss.retry_after)
    reason = hx.Reason(data.draw(TOKEN), data.draw(st.none() | st.integers(0, 999)),
                       data.draw(st.none() | st.text(alphabet='ab "\\;,=', max_size=20)))
    assert [(r.protocol, r.cause, r.text) for r in hx.parse_reasons(str(reason))] == [
        (reason.protocol, reason.cause, reason.text)]
    rep = hx.Replaces(data.draw(TOKEN) + "@" + data.draw(TOKEN), data.draw(TOKEN),
                      data.draw(TOKEN), data.draw(st.booleans()))
    got_rep = hx.parse_replaces(str(rep))
    assert (got_rep.call_id, got_rep.to_tag, got_rep.from_tag, got_rep.early_only) == (
        rep.call_id, rep.to_tag, rep.from_tag, rep.early_only)
    rack = hv.RAck(data.draw(st.integers(1, 2**31 - 1)), data.draw(st.integers(0, 2**31 - 1)),
                   data.draw(st.sampled_from(["INVITE", "UPDATE"])))
    assert hv.parse_rack(str(rack)) == rack
    when = data.draw(st.datetimes(min_value=dt.datetime(1000, 1, 1),
                                  timezones=st.just(dt.timezone.utc)))
    date = hv.SipDate.from_datetime(when)
    assert hv.parse_date(str(date)).datetime == when.replace(microsecond=0)


def test_date_from_datetime_matches_the_rfc3261_example() -> None:
    # RFC 3261 §20.17: "Date: Sat, 13 Nov 2010 23:29:00 GMT" (weekday computed, not given).
    when = dt.datetime(2010, 11, 14, 0, 29, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert str(hv.SipDate.from_datetime(when)) == "Sat, 13 Nov 2010 23:29:00 GMT"


def test_typed_values_as_header_values() -> None:
    m = msg()
    m.set("Session-Expires", hv.SessionExpires(1800, "uac"))
    m.add("Reason", hx.Reason("Q.850", 16, "Terminated"))
    m.add("Replaces", hx.Replaces("98732@sip.example.com", "ff87ff", "r33th4x0r"))
    again = parse_message(bytes(m))
    se, replaces = again.session_expires, again.replaces
    assert se is not None and (se.seconds, se.refresher) == (1800, "uac")
    assert [(r.protocol, r.cause, r.text) for r in again.reasons] == [("Q.850", 16, "Terminated")]
    assert replaces is not None and replaces.to_tag == "ff87ff"
