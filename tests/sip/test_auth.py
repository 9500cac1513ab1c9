"""Digest auth: exact RFC and live-capture vectors, client behaviour, server verification."""

from __future__ import annotations

import json
import random
import re

import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.sip.auth import (
    Algorithm,
    AuthStatus,
    ChallengeOutcome,
    Credentials,
    DigestChallenge,
    DigestClient,
    DigestServer,
    DigestServerConfig,
    InMemoryCredentialStore,
    Qop,
    authorization_for,
    compute_ha1,
    compute_response,
    compute_userhash,
    parse_auth_header,
    parse_auth_headers,
    parse_challenges,
    parse_credentials,
)
from tests.conftest import DATA

VECTORS = json.loads((DATA / "auth" / "digest_auth.json").read_text())
SHA512 = json.loads((DATA / "auth" / "rfc7616_sha512_256_userhash.json").read_text())
ALG = {"md5": Algorithm.MD5, "sha256": Algorithm.SHA_256, "sha512-256": Algorithm.SHA_512_256}


@pytest.mark.parametrize("vec", VECTORS, ids=[v["source"][:40] for v in VECTORS])
def test_vectors_exact_response(vec: dict[str, str]) -> None:
    alg = ALG[vec["alg"]]
    got = compute_response(
        algorithm=alg,
        ha1=compute_ha1(alg, vec["user"], vec["realm"], vec["pw"]),
        method=vec["method"],
        uri=vec["uri"],
        nonce=vec["nonce"],
        qop=Qop(vec["qop"]),
        nc=vec["nc"],
        cnonce=vec["cnonce"],
    )
    assert got == vec["response"]


@pytest.mark.parametrize("vec", VECTORS, ids=[v["source"][:40] for v in VECTORS])
def test_vectors_through_header_round(vec: dict[str, str]) -> None:
    """Challenge header text -> client -> Authorization text -> server-side parse: same response."""
    alg = ALG[vec["alg"]]
    challenge_text = (
        f'Digest realm="{vec["realm"]}", nonce="{vec["nonce"]}", '
        f'algorithm={alg.value}, qop="{vec["qop"]}"'
    )
    rng = random.Random(1)
    client = DigestClient(credentials=[Credentials(username=vec["user"], password=vec["pw"])], rng=rng)
    assert client.handle_challenge([challenge_text], proxy=False) is ChallengeOutcome.RETRY
    # Inject the captured cnonce by answering statelessly with the same challenge.
    (challenge,) = parse_challenges(challenge_text)
    assert isinstance(challenge, DigestChallenge)
    creds = authorization_for(
        challenge,
        username=vec["user"],
        password=vec["pw"],
        method=vec["method"],
        uri=vec["uri"],
        cnonce=vec["cnonce"],
        nc=int(vec["nc"], 16),
        qop=Qop(vec["qop"]),
    )
    parsed = parse_credentials(str(creds))
    assert parsed.response == vec["response"]
    assert parsed.nc == vec["nc"] and parsed.cnonce == vec["cnonce"]


def test_rfc7616_sha512_256_userhash_erratum() -> None:
    v = SHA512
    challenge_text = (
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        f'nonce="{v["nonce"]}", opaque="{v["opaque"]}", charset=UTF-8, userhash=true'
    )
    (challenge,) = parse_challenges(challenge_text)
    assert isinstance(challenge, DigestChallenge)
    assert challenge.algorithm is Algorithm.SHA_512_256 and challenge.userhash
    assert compute_userhash(Algorithm.SHA_512_256, v["user"], v["realm"]) == v["userhash"]
    creds = authorization_for(
        challenge, username=v["user"], password=v["pw"], method="GET", uri=v["uri"],
        cnonce=v["cnonce"], nc=1, qop=Qop.AUTH,
    )
    assert creds.username == v["userhash"]
    assert creds.response == v["response"]
    assert creds.opaque == v["opaque"]
    text = str(creds)
    assert "userhash=true" in text and f'username="{v["userhash"]}"' in text


def test_rfc2617_challenge_header_parse() -> None:
    # RFC 2617 §3.5 challenge, folded as in the RFC.
    text = (
        'Digest\r\n                 realm="testrealm@host.com",\r\n'
        '                 qop="auth,auth-int",\r\n'
        '                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n'
        '                 opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    (ch,) = parse_challenges(text)
    assert isinstance(ch, DigestChallenge)
    assert ch.realm == "testrealm@host.com"
    assert ch.qop == ("auth", "auth-int")
    assert ch.algorithm is Algorithm.MD5  # absent means MD5
    assert ch.opaque == "5ccc069c403ebaf9f0171e9517f40e41"


def test_rfc2617_full_authorization_header_response() -> None:
    # RFC 2617 §3.5 Authorization header: response must verify with our server-side math.
    text = (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
        'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    c = parse_credentials(text)
    assert (c.username, c.uri, c.qop, c.nc, c.cnonce) == (
        "Mufasa", "/dir/index.html", "auth", "00000001", "0a4f113b"
    )
    ha1 = compute_ha1(Algorithm.MD5, "Mufasa", "testrealm@host.com", "Circle Of Life")
    assert compute_response(
        algorithm=Algorithm.MD5, ha1=ha1, method="GET", uri=c.uri, nonce=c.nonce,
        qop=Qop.AUTH, nc="00000001", cnonce="0a4f113b",
    ) == c.response


def test_rfc7616_two_challenges_strongest_and_first() -> None:
    # RFC 7616 §3.9.1: the server sends SHA-256 then MD5.
    common = (
        'realm="http-auth@example.org", qop="auth, auth-int", '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    md5 = f"Digest {common}, algorithm=MD5"
    sha = f"Digest {common}, algorithm=SHA-256"
    cred = Credentials(username="Mufasa", password="Circle of Life")
    for order in ([md5, sha], [sha, md5]):
        client = DigestClient(credentials=[cred], rng=random.Random(3))
        assert client.handle_challenge(order, proxy=False) is ChallengeOutcome.RETRY
        ((name, value),) = client.authorize(method="GET", uri="/dir/index.html")
        assert name == "Authorization"
        assert parse_credentials(value).algorithm is Algorithm.SHA_256
    first = DigestClient(credentials=[cred], rng=random.Random(3), prefer_first=True)
    first.handle_challenge([md5, sha], proxy=False)
    ((_, value),) = first.authorize(method="GET", uri="/dir/index.html")
    assert parse_credentials(value).algorithm is Algorithm.MD5
    # Both in one header value (HTTP style) work too.
    both = DigestClient(credentials=[cred], rng=random.Random(3))
    both.handle_challenge([f"{md5}, {sha}"], proxy=False)
    ((_, value),) = both.authorize(method="GET", uri="/x")
    assert parse_credentials(value).algorithm is Algorithm.SHA_256


def _server(**kw: object) -> tuple[DigestServer, InMemoryCredentialStore]:
    store = InMemoryCredentialStore()
    store.add("alice", "example.com", "s3cret")
    config = DigestServerConfig(realm="example.com", **kw)  # type: ignore[arg-type]
    return DigestServer(config=config, secret=b"k" * 32, store=store, rng=random.Random(7)), store


ALL_ALGS = list(Algorithm)


@pytest.mark.parametrize("alg", ALL_ALGS, ids=[a.value for a in ALL_ALGS])
@pytest.mark.parametrize("qop", [Qop.AUTH, Qop.AUTH_INT])
def test_client_server_every_algorithm_and_qop(alg: Algorithm, qop: Qop) -> None:
    server, _ = _server(algorithms=(alg,), qop=(qop,))
    client = DigestClient(
        credentials=[Credentials(username="alice", password="s3cret")], rng=random.Random(5)
    )
    assert client.handle_challenge(server.challenge(now=10.0), proxy=False) is ChallengeOutcome.RETRY
    body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
    for i in range(3):
        ((_, value),) = client.authorize(method="INVITE", uri="sip:bob@example.com", body=body)
        assert parse_credentials(value).nc == f"{i + 1:08x}"
        result = server.verify(
            method="INVITE", authorization=value, now=11.0 + i, body=body,
            request_uri="sip:bob@example.com",
        )
        assert result.ok, result.status
        assert result.username == "alice"
    if qop is Qop.AUTH_INT:
        # auth-int covers the body: a changed body fails.
        ((_, value),) = client.authorize(method="INVITE", uri="sip:bob@example.com", body=body)
        bad = server.verify(method="INVITE", authorization=value, now=20.0, body=body + b"x")
        assert bad.status is AuthStatus.BAD_RESPONSE


def test_server_rejects_replay_wrong_password_stale_and_tampering() -> None:
    server, store = _server()
    (sha, md5) = server.challenge(now=100.0)
    assert "algorithm=SHA-256" in sha and "algorithm=MD5" in md5
    client = DigestClient(
        credentials=[Credentials(username="alice", password="s3cret")], rng=random.Random(9)
    )
    client.handle_challenge([sha, md5], proxy=False)
    ((_, value),) = client.authorize(method="REGISTER", uri="sip:example.com")
    assert server.verify(method="REGISTER", authorization=value, now=101.0).ok
    replay = server.verify(method="REGISTER", authorization=value, now=102.0)
    assert replay.status is AuthStatus.REPLAY and not replay.ok
    assert replay.status_code == 401 and replay.header_name == "WWW-Authenticate"
    # Out-of-order counts within the window are fine, each once.
    v3 = client.authorize(method="REGISTER", uri="sip:example.com")[0][1]  # nc=2
    v4 = client.authorize(method="REGISTER", uri="sip:example.com")[0][1]  # nc=3
    assert server.verify(method="REGISTER", authorization=v4, now=103.0).ok
    assert server.verify(method="REGISTER", authorization=v3, now=103.0).ok
    assert server.verify(method="REGISTER", authorization=v3, now=103.0).status is AuthStatus.REPLAY
    # Expired nonce: stale=true in the new challenge; the client retries silently.
    v5 = client.authorize(method="REGISTER", uri="sip:example.com")[0][1]
    stale = server.verify(method="REGISTER", authorization=v5, now=100.0 + 301.0)
    assert stale.status is AuthStatus.STALE
    assert all("stale=true" in c for c in stale.challenges)
    assert client.handle_challenge(list(stale.challenges), proxy=False) is ChallengeOutcome.RETRY
    v6 = client.authorize(method="REGISTER", uri="sip:example.com")[0][1]
    assert parse_credentials(v6).nc == "00000001"
    assert server.verify(method="REGISTER", authorization=v6, now=402.0).ok
    # Tampered nonce (one character) is not ours.
    c = parse_credentials(v6)
    forged = v6.replace(c.nonce, ("A" if c.nonce[0] != "A" else "B") + c.nonce[1:])
    assert server.verify(method="REGISTER", authorization=forged, now=402.0).status is AuthStatus.BAD_NONCE
    # Wrong password.
    wrong = DigestClient(credentials=[Credentials(username="alice", password="nope")], rng=random.Random(1))
    wrong.handle_challenge(server.challenge(now=500.0), proxy=False)
    wv = wrong.authorize(method="REGISTER", uri="sip:example.com")[0][1]
    bad = server.verify(method="REGISTER", authorization=wv, now=500.5)
    assert bad.status is AuthStatus.BAD_RESPONSE
    # ... the client then sees a non-stale challenge after its retry and gives up.
    assert wrong.handle_challenge(list(bad.challenges), proxy=False) is ChallengeOutcome.REJECTED
    assert wrong.authorize(method="REGISTER", uri="sip:example.com") == []
    # Unknown user, missing header, garbage.
    assert server.verify(method="REGISTER", authorization=None, now=1.0).status is AuthStatus.MISSING
    assert server.verify(method="REGISTER", authorization="Digest x", now=1.0).status is AuthStatus.MALFORMED
    assert server.verify(method="REGISTER", authorization="Basic Zm9vOmJhcg==", now=1.0).status is AuthStatus.MALFORMED


def test_server_ha1_store_userhash_and_proxy_headers() -> None:
    store = InMemoryCredentialStore()
    ha1 = {
        Algorithm.SHA_256: compute_ha1(Algorithm.SHA_256, "bob", "r", "pw"),
        Algorithm.MD5: compute_ha1(Algorithm.MD5, "bob", "r", "pw"),
    }
    store.add_ha1("bob", "r", ha1)
    config = DigestServerConfig(realm="r", proxy=True, userhash=True, algorithms=(Algorithm.SHA_256_SESS,))
    server = DigestServer(config=config, secret=b"s" * 16, store=store, rng=random.Random(2))
    assert server.status_code == 407 and server.header_name == "Proxy-Authenticate"
    client = DigestClient(credentials=[Credentials(username="bob", password="pw", realm="r")], rng=random.Random(4))
    assert client.handle_challenge(server.challenge(now=0.0), proxy=True) is ChallengeOutcome.RETRY
    ((name, value),) = client.authorize(method="INVITE", uri="sip:x@r")
    assert name == "Proxy-Authorization"
    creds = parse_credentials(value)
    assert creds.userhash and creds.username == compute_userhash(Algorithm.SHA_256, "bob", "r")
    # A request through two proxies carries one Proxy-Authorization per realm (RFC 3261 §22.3).
    other = 'Digest username="x", realm="elsewhere", nonce="n", uri="sip:x@r", response="00"'
    result = server.verify(method="INVITE", authorization=[other, value], now=1.0)
    assert result.ok and result.username == "bob"
    assert server.verify(method="INVITE", authorization=[], now=1.0).status is AuthStatus.MISSING


def test_server_bounded_nonce_memory_and_eviction_is_stale() -> None:
    server, _ = _server(max_tracked_nonces=8, nonce_lifetime=1e9)
    first_value = None
    for i in range(50):
        client = DigestClient(
            credentials=[Credentials(username="alice", password="s3cret")], rng=random.Random(i)
        )
        client.handle_challenge(server.challenge(now=float(i)), proxy=False)
        value = client.authorize(method="REGISTER", uri="sip:example.com")[0][1]
        if first_value is None:
            first_value = value
        assert server.verify(method="REGISTER", authorization=value, now=float(i)).ok
        assert server.tracked_nonces() <= 8
    assert first_value is not None
    # The evicted first nonce cannot be replayed: it is stale now.
    assert server.verify(method="REGISTER", authorization=first_value, now=60.0).status is AuthStatus.STALE


def test_client_preauthorizes_and_renews_on_nonce_expiry() -> None:
    server, _ = _server()
    client = DigestClient(credentials=[Credentials(username="alice", password="s3cret")], rng=random.Random(1))
    assert client.authorize(method="REGISTER", uri="sip:example.com") == []
    client.handle_challenge(server.challenge(now=0.0), proxy=False)
    for i in range(4):  # retry, then pre-authorized requests: no new challenge needed
        value = client.authorize(method="REGISTER", uri="sip:example.com")[0][1]
        assert server.verify(method="REGISTER", authorization=value, now=float(i)).ok
    assert client.realms == ["example.com"]
    # A server that forgets nonces without stale=true: one fresh retry is still allowed
    # because the old nonce had served several requests.
    fresh = DigestServer(config=DigestServerConfig(realm="example.com"), secret=b"z" * 32, store=server.store)
    assert client.handle_challenge(fresh.challenge(now=5.0), proxy=False) is ChallengeOutcome.RETRY


def test_client_no_credentials_unsupported_and_nextnonce() -> None:
    client = DigestClient(credentials=[Credentials(username="a", password="b", realm="one")], rng=random.Random(1))
    assert client.handle_challenge(['Digest realm="two", nonce="n"'], proxy=False) is ChallengeOutcome.NO_CREDENTIALS
    assert client.handle_challenge(['Digest realm="one", nonce="n", algorithm=SHA-1'], proxy=False) is ChallengeOutcome.UNSUPPORTED
    assert client.handle_challenge(['Basic realm="one"'], proxy=False) is ChallengeOutcome.UNSUPPORTED
    assert client.handle_challenge(['Digest realm="one", nonce="n", qop="auth-conf"'], proxy=False) is ChallengeOutcome.UNSUPPORTED
    assert client.handle_challenge(['garbage "'], proxy=False) is ChallengeOutcome.UNSUPPORTED
    # RFC 2069 style (no qop): no nc / cnonce in the answer.
    assert client.handle_challenge(['Digest realm="one", nonce="n1"'], proxy=False) is ChallengeOutcome.RETRY
    ((_, value),) = client.authorize(method="OPTIONS", uri="sip:one")
    creds = parse_credentials(value)
    assert creds.qop is None and creds.nc is None and creds.cnonce is None
    expect = compute_response(
        algorithm=Algorithm.MD5, ha1=compute_ha1(Algorithm.MD5, "a", "one", "b"),
        method="OPTIONS", uri="sip:one", nonce="n1",
    )
    assert creds.response == expect
    client.handle_authentication_info('nextnonce="n2", qop=auth', proxy=False, realm="one")
    ((_, value),) = client.authorize(method="OPTIONS", uri="sip:one")
    assert parse_credentials(value).nonce == "n2"


def test_auth_param_parser_quoting_and_errors() -> None:
    h = parse_auth_header(r'Digest realm="a \"b\" \\ c", nonce=xyz, Opaque="", stale=TRUE')
    assert h.get("realm") == 'a "b" \\ c'
    assert h.get("NONCE") == "xyz" and h.get("opaque") == ""
    assert "realm" in h.quoted and "nonce" not in h.quoted
    assert parse_auth_header(str(h)) == h
    ch = DigestChallenge.from_header(parse_auth_header('Digest realm="r", nonce="n", stale=TRUE'))
    assert ch.stale
    # Several schemes in one value, including token68.
    hs = parse_auth_headers('Basic dXNlcjpwYXNz==, Digest realm="r", nonce="n", Newauth realm="x"')
    assert [x.scheme for x in hs] == ["Basic", "Digest", "Newauth"]
    assert hs[0].token68 == "dXNlcjpwYXNz=="
    bad = {
        'Digest realm="unterminated': 13,
        "Digest realm=;": 13,
        'Digest realm="a" nonce="b"': 17,
        'Digest realm="a", realm="b"': 18,
        "": 0,
        "=x": 0,
    }
    for text, offset in bad.items():
        with pytest.raises(ParseError) as info:
            parse_auth_headers(text)
        assert info.value.offset == offset, text
    # "realm=" alone is a token68 by the grammar; as a Digest challenge it lacks a realm.
    assert parse_auth_header("Digest realm=").token68 == "realm="
    with pytest.raises(ParseError):
        parse_challenges("Digest realm=")
    with pytest.raises(ParseError):
        parse_auth_headers("Digest " + ", ".join(f"p{i}=v" for i in range(100)))
    with pytest.raises(ParseError):
        parse_auth_headers("Digest realm=" + "x" * 9000)
    with pytest.raises(ParseError):
        parse_credentials('Digest username="u", realm="r", nonce="n", uri="u", response="r", qop=auth')


def test_non_ascii_username_uses_ext_value() -> None:
    ch = DigestChallenge(realm="r", nonce="n", qop=("auth",))
    creds = authorization_for(
        ch, username="Jäsøn Doe", password="p", method="GET", uri="/", cnonce="c", qop=Qop.AUTH
    )
    text = str(creds)
    assert "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe" in text
    assert parse_credentials(text).username == "Jäsøn Doe"
    assert re.search(r"nc=00000001", text)


def test_two_proxies_challenge_one_request() -> None:
    """RFC 3261 §22.3: a 407 from a forking proxy may carry challenges of several realms; the
    retry carries one Proxy-Authorization per realm, each verified by its own proxy."""
    servers = []
    for realm in ("atlanta.example.com", "biloxi.example.com"):
        store = InMemoryCredentialStore()
        store.add("alice", realm, "pw-" + realm)
        servers.append(DigestServer(config=DigestServerConfig(realm=realm, proxy=True),
                                    secret=realm.encode() * 2, store=store, rng=random.Random(3)))
    client = DigestClient(
        credentials=[Credentials(username="alice", password="pw-" + s.config.realm, realm=s.config.realm)
                     for s in servers],
        rng=random.Random(8),
    )
    challenges = [c for s in servers for c in s.challenge(now=0.0)]
    assert client.handle_challenge(challenges, proxy=True) is ChallengeOutcome.RETRY
    headers = client.authorize(method="INVITE", uri="sip:bob@biloxi.example.com")
    assert [name for name, _ in headers] == ["Proxy-Authorization"] * 2
    values = [v for _, v in headers]
    for server in servers:
        assert server.verify(method="INVITE", authorization=values, now=1.0).ok
