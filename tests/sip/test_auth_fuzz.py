"""Hypothesis fuzzing of the auth-param parser and the server's verify (never another exception)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.sip.auth import (
    AuthStatus,
    DigestServer,
    DigestServerConfig,
    parse_auth_header,
    parse_auth_headers,
    parse_challenges,
    parse_credentials,
)

ALPHABET = st.sampled_from(list('Digest realm="nonce=,\\ \t\r\nabcXYZ019-._~+/=\'é'))
SAMPLE = (
    'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
    'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", '
    'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def _parse_all(text: str) -> None:
    for fn in (parse_auth_headers, parse_auth_header, parse_challenges, parse_credentials):
        try:
            fn(text)
        except ParseError as exc:
            assert 0 <= exc.offset <= max(len(text), 8192)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=120))
def test_random_text_gives_value_or_parse_error(text: str) -> None:
    _parse_all(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.integers(0, 20), st.text(max_size=6))
def test_mutated_credentials(pos: int, cut: int, insert: str) -> None:
    _parse_all(SAMPLE[:pos] + insert + SAMPLE[pos + cut :])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_unicode(text: str) -> None:
    _parse_all(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.text(max_size=8))
def test_server_verify_never_raises(pos: int, insert: str) -> None:
    server = DigestServer(
        config=DigestServerConfig(realm="testrealm@host.com", allow_no_qop=True),
        secret=b"x" * 16,
        rng=random.Random(0),
    )
    result = server.verify(method="GET", authorization=SAMPLE[:pos] + insert + SAMPLE[pos:], now=0.0)
    assert result.status is not AuthStatus.OK


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-zA-Z][a-zA-Z0-9\-]{0,8}", fullmatch=True),
            st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12),
        ),
        max_size=6,
        unique_by=lambda kv: kv[0].lower(),
    )
)
def test_serialize_parse_round_trip(params: list[tuple[str, str]]) -> None:
    from rvoip_sansio.sip.auth import AuthHeader

    header = AuthHeader(scheme="Digest", params=tuple(params), quoted=frozenset(k.lower() for k, _ in params))
    if not params:
        return
    assert parse_auth_header(str(header)) == header
