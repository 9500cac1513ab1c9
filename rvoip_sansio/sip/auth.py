"""Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760, RFC 2617).

Client side: :class:`DigestClient` turns ``401``/``407`` challenges into ``Authorization`` /
``Proxy-Authorization`` values and remembers each realm's challenge, so later requests are
pre-authorized with the next nonce count instead of being challenged again.

Server side: :class:`DigestServer` issues HMAC-signed, time-stamped nonces and verifies
credentials in constant time, with stale-nonce and replayed-count rejection.

Pure core: the clock is the caller's ``now``, randomness an injected ``random.Random``-like
source (``random.SystemRandom()`` by default, which is what cnonces should use in production).
"""

from __future__ import annotations

import enum
import logging
import random
from typing import Iterable, Sequence

import attrs

from rvoip_sansio._core import ParseError, RandomSource

from ._auth_digest import (
    Algorithm,
    DigestChallenge,
    DigestCredentials,
    Qop,
    compute_ha1,
    compute_response,
    compute_userhash,
    parse_challenges,
    parse_credentials,
)
from ._auth_params import AuthHeader, parse_auth_header, parse_auth_headers, quote
from ._auth_server import (
    AuthResult,
    AuthStatus,
    CredentialStore,
    DigestServer,
    DigestServerConfig,
    InMemoryCredentialStore,
    StoredCredential,
)

__all__ = [
    "Algorithm",
    "Qop",
    "AuthHeader",
    "DigestChallenge",
    "DigestCredentials",
    "parse_auth_header",
    "parse_auth_headers",
    "parse_challenges",
    "parse_credentials",
    "quote",
    "compute_ha1",
    "compute_response",
    "compute_userhash",
    "Credentials",
    "ChallengeOutcome",
    "DigestClient",
    "authorization_for",
    "AuthResult",
    "AuthStatus",
    "CredentialStore",
    "DigestServer",
    "DigestServerConfig",
    "InMemoryCredentialStore",
    "StoredCredential",
]

logger = logging.getLogger("rvoip_sansio.sip.auth")


@attrs.frozen(kw_only=True)
class Credentials:
    """A user's secret for one realm (``realm=None``: any realm that challenges).

    ``username`` is the authentication user, which may differ from the From/To user.
    """

    username: str
    password: str = attrs.field(repr=False)
    realm: str | None = None


class ChallengeOutcome(enum.Enum):
    """What :meth:`DigestClient.handle_challenge` concluded."""

    #: Credentials are ready: resend the request with :meth:`DigestClient.authorize` headers.
    RETRY = "retry"
    #: A realm challenged for which no credentials are configured.
    NO_CREDENTIALS = "no-credentials"
    #: The server refused the credentials just sent (a non-stale re-challenge): do not retry.
    REJECTED = "rejected"
    #: No challenge we can answer (unknown scheme, algorithm or qop, or malformed).
    UNSUPPORTED = "unsupported"


@attrs.define
class _RealmState:
    challenge: DigestChallenge
    credentials: Credentials
    proxy: bool
    nc: int = 0
    cnonce: str | None = None


def _choose_qop(challenge: DigestChallenge, prefer_auth_int: bool) -> Qop | None | bool:
    """The qop to answer with: a Qop, None (RFC 2069 mode), or False when none is usable."""
    if not challenge.qop:
        return None
    offered = {q.lower() for q in challenge.qop}
    order = (Qop.AUTH_INT, Qop.AUTH) if prefer_auth_int else (Qop.AUTH, Qop.AUTH_INT)
    for qop in order:
        if qop.value in offered:
            return qop
    return False


def authorization_for(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str = "",
    nc: int = 1,
    qop: Qop | None = None,
    body: bytes = b"",
) -> DigestCredentials:
    """Credentials answering ``challenge`` (stateless; :class:`DigestClient` keeps the state).

    ``qop`` must be one the challenge offered (or None when it offered none).
    """
    algorithm = challenge.algorithm
    if algorithm is None:
        raise ValueError(f"unsupported digest algorithm {challenge.algorithm_token!r}")
    nc_text = f"{nc:08x}"
    response = compute_response(
        algorithm=algorithm,
        ha1=compute_ha1(algorithm.base, username, challenge.realm, password),
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        body=body,
    )
    # RFC 7616 §3.4.4: with userhash the username sent is H(username:realm).
    sent_user = (
        compute_userhash(algorithm, username, challenge.realm) if challenge.userhash else username
    )
    # RFC 2617 §3.2.2: algorithm is echoed when the challenge named one; we always name it.
    return DigestCredentials(
        username=sent_user,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm_token=challenge.algorithm_token,
        cnonce=cnonce if qop is not None else None,
        opaque=challenge.opaque,
        qop=qop.value if qop is not None else None,
        nc=nc_text if qop is not None else None,
        userhash=challenge.userhash,
    )


class DigestClient:
    """Answers challenges and pre-authorizes later requests (RFC 3261 §22.2–22.3).

    One client per peer or registration. It remembers the latest challenge per
    (realm, proxy-or-not); :meth:`authorize` then returns headers for every remembered realm
    with an increasing nonce count, so requests after the first are not challenged again.
    """

    def __init__(
        self,
        *,
        credentials: Iterable[Credentials] = (),
        rng: RandomSource | None = None,
        prefer_first: bool = False,
        prefer_auth_int: bool = False,
        max_realms: int = 16,
    ) -> None:
        self._credentials: list[Credentials] = list(credentials)
        self._rng = rng if rng is not None else random.SystemRandom()
        #: Take the first supported challenge (RFC 8760 §2.4 server order) instead of the strongest.
        self.prefer_first = prefer_first
        self.prefer_auth_int = prefer_auth_int
        self.max_realms = max_realms
        self._realms: dict[tuple[bool, str], _RealmState] = {}
        # Realms whose current nonce was used exactly once, by the retry after a challenge.
        self._uses: dict[tuple[bool, str], int] = {}

    def add_credentials(self, credentials: Credentials) -> None:
        """Add (or, for the same realm and user, replace) credentials."""
        self._credentials = [
            c
            for c in self._credentials
            if not (c.realm == credentials.realm and c.username == credentials.username)
        ]
        self._credentials.append(credentials)

    def _credentials_for(self, realm: str) -> Credentials | None:
        for cred in self._credentials:
            if cred.realm == realm:
                return cred
        for cred in self._credentials:
            if cred.realm is None:
                return cred
        return None

    def _pick(self, challenges: list[DigestChallenge]) -> DigestChallenge | None:
        usable = [
            c
            for c in challenges
            if c.algorithm is not None and _choose_qop(c, self.prefer_auth_int) is not False
        ]
        if not usable:
            return None
        if self.prefer_first:
            return usable[0]
        # sorted() is stable: among equally strong challenges the server's order wins.
        return sorted(usable, key=lambda c: -c.algorithm.strength if c.algorithm else 0)[0]

    def handle_challenge(self, header_values: Sequence[str], *, proxy: bool) -> ChallengeOutcome:
        """Take the ``WWW-Authenticate`` (``proxy=False``, from a 401) or ``Proxy-Authenticate``
        (``proxy=True``, from a 407) values of one response. Never raises on peer input."""
        by_realm: dict[str, list[DigestChallenge]] = {}
        for value in header_values:
            try:
                parsed = parse_challenges(value)
            except ParseError as exc:
                logger.debug("ignoring malformed challenge %r: %s", value, exc)
                continue
            for item in parsed:
                if isinstance(item, DigestChallenge):
                    by_realm.setdefault(item.realm, []).append(item)
        if not by_realm:
            return ChallengeOutcome.UNSUPPORTED
        outcome = ChallengeOutcome.RETRY
        answered = 0
        for realm, challenges in by_realm.items():
            chosen = self._pick(challenges)
            if chosen is None:
                outcome = _worse(outcome, ChallengeOutcome.UNSUPPORTED)
                continue
            cred = self._credentials_for(realm)
            if cred is None:
                outcome = _worse(outcome, ChallengeOutcome.NO_CREDENTIALS)
                continue
            key = (proxy, realm)
            if not chosen.stale and self._uses.get(key) == 1:
                # RFC 3261 §22.2: the retry carrying these credentials was challenged again
                # with a fresh (non-stale) nonce: the password is wrong. Do not loop.
                logger.info("credentials for realm %r rejected", realm)
                self._realms.pop(key, None)
                self._uses.pop(key, None)
                outcome = _worse(outcome, ChallengeOutcome.REJECTED)
                continue
            # stale=true (RFC 7616 §3.3): same credentials, new nonce, counts restart.
            if key not in self._realms and len(self._realms) >= self.max_realms:
                self._realms.pop(next(iter(self._realms)))
            self._realms[key] = _RealmState(challenge=chosen, credentials=cred, proxy=proxy)
            self._uses[key] = 0
            answered += 1
        if answered == 0 and outcome is ChallengeOutcome.RETRY:
            return ChallengeOutcome.UNSUPPORTED
        return outcome

    def handle_authentication_info(self, value: str, *, proxy: bool, realm: str) -> None:
        """``Authentication-Info``: adopt ``nextnonce`` (RFC 7616 §3.5). Ignores garbage."""
        state = self._realms.get((proxy, realm))
        if state is None:
            return
        try:
            header = parse_auth_header("x " + value)
        except ParseError:
            return
        nextnonce = header.get("nextnonce")
        if nextnonce:
            state.challenge = attrs.evolve(state.challenge, nonce=nextnonce, stale=False)
            state.nc = 0
            state.cnonce = None

    def forget(self, realm: str | None = None) -> None:
        """Drop remembered challenges (all, or one realm's)."""
        for key in [k for k in self._realms if realm is None or k[1] == realm]:
            del self._realms[key]
            self._uses.pop(key, None)

    @property
    def realms(self) -> list[str]:
        """Realms currently remembered."""
        return [realm for _, realm in self._realms]

    def authorize(
        self, *, method: str, uri: str, body: bytes = b"", realm: str | None = None
    ) -> list[tuple[str, str]]:
        """``(header name, value)`` pairs for a request: one per remembered realm (or just
        ``realm``). Each call uses the next nonce count (RFC 7616 §3.4: nc increments)."""
        out: list[tuple[str, str]] = []
        for key, state in self._realms.items():
            if realm is not None and key[1] != realm:
                continue
            chosen = _choose_qop(state.challenge, self.prefer_auth_int)
            qop = chosen if isinstance(chosen, Qop) else None  # False was filtered in _pick
            if state.cnonce is None:
                # One cnonce per nonce: -sess session keys depend on it (RFC 7616 §3.4.2).
                state.cnonce = f"{self._rng.getrandbits(128):032x}"
            state.nc += 1
            creds = authorization_for(
                state.challenge,
                username=state.credentials.username,
                password=state.credentials.password,
                method=method,
                uri=uri,
                cnonce=state.cnonce,
                nc=state.nc,
                qop=qop,
                body=body,
            )
            self._uses[key] = self._uses.get(key, 0) + 1
            name = "Proxy-Authorization" if state.proxy else "Authorization"
            out.append((name, str(creds)))
        return out


_SEVERITY = {
    ChallengeOutcome.RETRY: 0,
    ChallengeOutcome.UNSUPPORTED: 1,
    ChallengeOutcome.NO_CREDENTIALS: 2,
    ChallengeOutcome.REJECTED: 3,
}


def _worse(a: ChallengeOutcome, b: ChallengeOutcome) -> ChallengeOutcome:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b
