"""Cross-check with sippy's independent digest code for the variants that have no RFC vector
(the -sess algorithms, auth-int, RFC 2069 mode). sippy is a bench peer (``.[bench]``): when it is
missing this module skips; the exact RFC and live vectors live in test_auth.py."""

from __future__ import annotations

import itertools

import pytest

from rvoip_sansio.sip.auth import Algorithm, DigestChallenge, Qop, authorization_for, parse_credentials

sippy_auth = pytest.importorskip("sippy.SipAuthorization")

CASES = list(itertools.product(list(Algorithm), [Qop.AUTH, Qop.AUTH_INT, None]))


@pytest.mark.parametrize("alg,qop", CASES, ids=[f"{a.value}-{q.value if q else 'none'}" for a, q in CASES])
def test_same_response_as_sippy(alg: Algorithm, qop: Qop | None) -> None:
    body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
    nonce, cnonce, nc = "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", "0a4f113b", 7
    challenge = DigestChallenge(realm="atlanta.example.com", nonce=nonce, algorithm=alg,
                                algorithm_token=alg.value, qop=("auth", "auth-int"))
    ours = authorization_for(
        challenge, username="bob", password="zanzibar", method="INVITE",
        uri="sip:bob@biloxi.example.com", cnonce=cnonce, nc=nc, qop=qop, body=body.encode(),
    )
    ha1 = sippy_auth.DigestCalcHA1(alg.value, "bob", "atlanta.example.com", "zanzibar", nonce, cnonce)
    theirs = sippy_auth.DigestCalcResponse(
        alg.value, ha1, nonce, f"{nc:08x}" if qop else None, cnonce if qop else None,
        qop.value if qop else None, "INVITE", "sip:bob@biloxi.example.com", body,
    )
    assert ours.response == theirs
    assert parse_credentials(str(ours)).response == theirs
