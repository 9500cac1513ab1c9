"""Registrar core (RFC 3261 §10.3): bindings, expiry from now, q-values, Contact: *, 423,
out-of-order CSeq, digest authentication against a credential store."""

from __future__ import annotations

import random

from rvoip_sansio.server import Registrar, RegistrarConfig
from rvoip_sansio.sip import Request, Response
from rvoip_sansio.sip.auth import (
    Algorithm,
    DigestChallenge,
    DigestServer,
    DigestServerConfig,
    InMemoryCredentialStore,
    Qop,
    authorization_for,
    parse_challenges,
)

SRC = ("10.0.0.1", 5060)


def register(contacts: list[str], *, cseq: int = 1, call_id: str = "reg-1", expires: int | None = None,
             user: str = "alice", auth: str | None = None) -> Request:
    headers = [("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK" + str(cseq) + call_id),
               ("From", f"<sip:{user}@example.com>;tag=a"), ("To", f"<sip:{user}@example.com>"),
               ("Call-ID", call_id), ("CSeq", f"{cseq} REGISTER"), ("Max-Forwards", "70")]
    headers += [("Contact", c) for c in contacts]
    if expires is not None:
        headers.append(("Expires", str(expires)))
    if auth is not None:
        headers.append(("Authorization", auth))
    return Request("REGISTER", "sip:example.com", headers)


def contacts(resp: Response) -> list[str]:
    return resp.get_all("contact", split=True)


def test_bindings_q_values_and_expiry_from_now() -> None:
    reg = Registrar()
    resp = reg.handle_request(register(["<sip:alice@10.0.0.1>;q=0.5", "<sip:alice@10.0.0.2>;expires=60;q=0.9"],
                                       expires=3600), SRC, 100.0)
    assert resp.status_code == 200 and resp.to.tag
    assert contacts(resp) == ["<sip:alice@10.0.0.2>;expires=60;q=0.9", "<sip:alice@10.0.0.1>;expires=3600;q=0.5"]
    assert [b.contact for b in reg.lookup("sip:alice@example.com", 100.0)] == ["sip:alice@10.0.0.2", "sip:alice@10.0.0.1"]
    # 60 s later the short binding has expired (expiry counted from the `now` passed in).
    assert [b.contact for b in reg.lookup("sip:alice@example.com", 160.0)] == ["sip:alice@10.0.0.1"]
    assert reg.lookup("sip:alice@example.com", 100.0 + 3600) == []
    assert reg.binding_count == 0


def test_expires_clamped_and_423_below_minimum() -> None:
    reg = Registrar(config=RegistrarConfig(min_expires=60, max_expires=7200))
    resp = reg.handle_request(register(["<sip:alice@10.0.0.1>"], expires=30), SRC, 0.0)
    assert resp.status_code == 423 and resp.get("min-expires") == "60"
    resp = reg.handle_request(register(["<sip:alice@10.0.0.1>"], expires=99999, cseq=2), SRC, 0.0)
    assert contacts(resp) == ["<sip:alice@10.0.0.1>;expires=7200"]


def test_refresh_remove_and_out_of_order() -> None:
    reg = Registrar()
    assert reg.handle_request(register(["<sip:alice@10.0.0.1>"], cseq=5), SRC, 0.0).status_code == 200
    # Same Call-ID, lower CSeq: out of order (§10.3 step 7).
    assert reg.handle_request(register(["<sip:alice@10.0.0.1>"], cseq=4), SRC, 1.0).status_code == 500
    resp = reg.handle_request(register(["<sip:alice@10.0.0.1>;expires=0"], cseq=6), SRC, 2.0)
    assert resp.status_code == 200 and contacts(resp) == []
    assert reg.lookup("sip:alice@example.com", 2.0) == []


def test_contact_star_removes_all_and_needs_expires_zero() -> None:
    reg = Registrar()
    reg.handle_request(register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>"]), SRC, 0.0)
    assert reg.handle_request(register(["*"], cseq=2, expires=10), SRC, 1.0).status_code == 400
    assert reg.handle_request(register(["*", "<sip:alice@10.0.0.3>"], cseq=2, expires=0), SRC, 1.0).status_code == 400
    assert reg.handle_request(register(["*"], cseq=3, expires=0), SRC, 1.0).status_code == 200
    assert reg.lookup("sip:alice@example.com", 1.0) == []


def test_query_without_contact_lists_bindings() -> None:
    reg = Registrar()
    reg.handle_request(register(["<sip:alice@10.0.0.1>"]), SRC, 0.0)
    resp = reg.handle_request(register([], cseq=2), SRC, 600.0)
    assert contacts(resp) == ["<sip:alice@10.0.0.1>;expires=3000"]


def test_bad_q_value_and_unknown_require() -> None:
    reg = Registrar()
    assert reg.handle_request(register(["<sip:alice@10.0.0.1>;q=2"]), SRC, 0.0).status_code == 400
    req = register(["<sip:alice@10.0.0.1>"])
    req.add("Require", "path")
    resp = reg.handle_request(req, SRC, 0.0)
    assert resp.status_code == 420 and resp.get("unsupported") == "path"


def test_limits_keep_memory_bounded() -> None:
    reg = Registrar(config=RegistrarConfig(max_aors=2, max_bindings_per_aor=2))
    for i, user in enumerate(("a", "b")):
        assert reg.handle_request(register([f"<sip:{user}@10.0.0.1>"], user=user), SRC, 0.0).status_code == 200
    assert reg.handle_request(register(["<sip:c@10.0.0.1>"], user="c"), SRC, 0.0).status_code == 503
    many = [f"<sip:a@10.0.0.{i}>" for i in range(2, 5)]
    assert reg.handle_request(register(many, user="a", cseq=2), SRC, 0.0).status_code == 403


def test_digest_authentication_against_the_store() -> None:
    store = InMemoryCredentialStore()
    store.add("alice", "example.com", "s3cret")
    auth = DigestServer(config=DigestServerConfig(realm="example.com", algorithms=(Algorithm.MD5,)),
                        secret=b"k" * 32, store=store, rng=random.Random(1))
    reg = Registrar(auth=auth)
    resp = reg.handle_request(register(["<sip:alice@10.0.0.1>"]), SRC, 0.0)
    assert resp.status_code == 401
    challenge = parse_challenges(resp.get("www-authenticate"))[0]
    assert isinstance(challenge, DigestChallenge)

    good = str(authorization_for(challenge, username="alice", password="s3cret", method="REGISTER",
                                 uri="sip:example.com", cnonce="abc", nc=1, qop=Qop.AUTH))
    bad = str(authorization_for(challenge, username="alice", password="wrong", method="REGISTER",
                                uri="sip:example.com", cnonce="abc", nc=2, qop=Qop.AUTH))
    assert reg.handle_request(register(["<sip:alice@10.0.0.1>"], cseq=2, auth=bad), SRC, 1.0).status_code == 401
    assert reg.handle_request(register(["<sip:alice@10.0.0.1>"], cseq=3, auth=good), SRC, 1.0).status_code == 200
    # Replaying the same nonce count is refused (RFC 7616 §3.4 via the digest server).
    assert reg.handle_request(register(["<sip:alice@10.0.0.1>"], cseq=4, auth=good), SRC, 2.0).status_code == 401
    # Alice's credentials cannot register Bob's address-of-record.
    mallory = register(["<sip:bob@10.0.0.1>"], user="bob", cseq=5, auth=str(authorization_for(
        challenge, username="alice", password="s3cret", method="REGISTER", uri="sip:example.com",
        cnonce="abc", nc=3, qop=Qop.AUTH)))
    assert reg.handle_request(mallory, SRC, 3.0).status_code == 403
