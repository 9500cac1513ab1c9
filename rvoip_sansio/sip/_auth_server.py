"""Digest authentication, server side: stateless signed nonces, verification, replay defence.

A nonce is ``base64url(issued_ms[8] || random[8] || HMAC-SHA256(secret, issued||random||realm)[:16])``
(RFC 7616 §3.3 leaves the format to the server and suggests time plus a private key). The time
inside is the ``now`` given to :meth:`DigestServer.challenge`; expiry is judged against the
``now`` given to :meth:`DigestServer.verify`, so both must be on one monotonic scale.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import random
import struct
from collections import OrderedDict
from typing import Protocol, Sequence

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
    parse_credentials,
)

__all__ = [
    "StoredCredential",
    "CredentialStore",
    "InMemoryCredentialStore",
    "DigestServerConfig",
    "DigestServer",
    "AuthStatus",
    "AuthResult",
]

_NONCE = struct.Struct("!Q8s")
_MAC_LEN = 16
_NONCE_LEN = _NONCE.size + _MAC_LEN


@attrs.frozen(kw_only=True)
class StoredCredential:
    """What a store knows of one user: the password, or HA1 per base algorithm (hex)."""

    username: str
    realm: str
    password: str | None = None
    ha1: tuple[tuple[Algorithm, str], ...] = ()

    def ha1_for(self, algorithm: Algorithm) -> str | None:
        """H(username:realm:password) for ``algorithm``'s hash, or None when unknown."""
        base = algorithm.base
        for alg, value in self.ha1:
            if alg.base is base:
                return value.lower()
        if self.password is not None:
            return compute_ha1(base, self.username, self.realm, self.password)
        return None


class CredentialStore(Protocol):
    """Where a server finds users. Adapters may back it with a database."""

    def lookup(self, username: str, realm: str) -> StoredCredential | None: ...

    def lookup_userhash(
        self, userhash: str, realm: str, algorithm: Algorithm
    ) -> StoredCredential | None: ...


@attrs.define
class InMemoryCredentialStore:
    """The default :class:`CredentialStore`: a dict keyed by (username, realm)."""

    _users: dict[tuple[str, str], StoredCredential] = attrs.field(factory=dict)

    def add(self, username: str, realm: str, password: str) -> None:
        """Store a password."""
        self._users[(username, realm)] = StoredCredential(
            username=username, realm=realm, password=password
        )

    def add_ha1(self, username: str, realm: str, ha1: dict[Algorithm, str]) -> None:
        """Store HA1 values (one per base algorithm) instead of the password."""
        self._users[(username, realm)] = StoredCredential(
            username=username, realm=realm, ha1=tuple((a.base, v) for a, v in ha1.items())
        )

    def lookup(self, username: str, realm: str) -> StoredCredential | None:
        return self._users.get((username, realm))

    def lookup_userhash(
        self, userhash: str, realm: str, algorithm: Algorithm
    ) -> StoredCredential | None:
        # RFC 7616 §3.4.4: the server recomputes H(username:realm) per user.
        for (username, user_realm), cred in self._users.items():
            if user_realm == realm and hmac.compare_digest(
                compute_userhash(algorithm, username, realm), userhash.lower()
            ):
                return cred
        return None


@attrs.frozen(kw_only=True)
class DigestServerConfig:
    """Server policy. ``algorithms`` are offered one challenge each, in this order."""

    realm: str
    algorithms: tuple[Algorithm, ...] = (Algorithm.SHA_256, Algorithm.MD5)
    qop: tuple[Qop, ...] = (Qop.AUTH,)
    nonce_lifetime: float = 300.0
    #: Nonces whose counts are tracked at once; older ones get ``stale=true`` (bounded memory).
    max_tracked_nonces: int = 10_000
    #: Accept RFC 2069 responses without qop (each nonce then works once).
    allow_no_qop: bool = False
    #: Header names for a proxy (407 Proxy-Authenticate) instead of a UAS/registrar (401).
    proxy: bool = False
    opaque: str | None = None
    userhash: bool = False


class AuthStatus(enum.Enum):
    """Outcome of :meth:`DigestServer.verify`."""

    OK = "ok"
    MISSING = "missing"
    MALFORMED = "malformed"
    WRONG_REALM = "wrong-realm"
    UNSUPPORTED = "unsupported"
    BAD_NONCE = "bad-nonce"
    STALE = "stale"
    REPLAY = "replay"
    UNKNOWN_USER = "unknown-user"
    BAD_RESPONSE = "bad-response"
    URI_MISMATCH = "uri-mismatch"


@attrs.frozen(kw_only=True)
class AuthResult:
    """The verdict. When not ``ok``, send ``status_code`` with ``challenges`` in ``header_name``."""

    status: AuthStatus
    username: str | None = None
    status_code: int = 401
    header_name: str = "WWW-Authenticate"
    challenges: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is AuthStatus.OK


@attrs.define
class _NonceState:
    issued: float
    max_nc: int = 0
    window: int = 0  # bit i set: count max_nc - i was seen


class DigestServer:
    """Issues challenges and verifies credentials (RFC 7616 §3.3–3.5, RFC 3261 §22)."""

    #: Counts accepted below the highest seen, for requests reordered on UDP.
    REPLAY_WINDOW = 64

    def __init__(
        self,
        *,
        config: DigestServerConfig,
        secret: bytes,
        store: CredentialStore | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the nonce secret must be at least 16 bytes")
        self.config = config
        self.store: CredentialStore = store if store is not None else InMemoryCredentialStore()
        self._secret = bytes(secret)
        self._rng = rng if rng is not None else random.SystemRandom()
        self._nonces: OrderedDict[bytes, _NonceState] = OrderedDict()
        # Nonces issued at or before this time and not tracked any more are stale: they may
        # have been evicted, and re-admitting them would reopen their used counts to replay.
        self._evicted_until = float("-inf")

    @property
    def header_name(self) -> str:
        return "Proxy-Authenticate" if self.config.proxy else "WWW-Authenticate"

    @property
    def status_code(self) -> int:
        return 407 if self.config.proxy else 401

    # -- challenges ---------------------------------------------------------------------------
    def make_nonce(self, now: float) -> str:
        """A fresh signed nonce carrying ``now`` (in milliseconds)."""
        if not 0.0 <= now < 2.0**53 / 1000.0:  # also rejects NaN
            raise ValueError(f"now must be a finite, non-negative time in seconds, got {now!r}")
        issued = int(round(now * 1000.0))
        body = _NONCE.pack(issued, self._rng.getrandbits(64).to_bytes(8, "big"))
        mac = hmac.digest(self._secret, body + self.config.realm.encode(), "sha256")[:_MAC_LEN]
        return base64.urlsafe_b64encode(body + mac).decode("ascii").rstrip("=")

    def challenge(self, now: float, *, stale: bool = False) -> list[str]:
        """Header values, one per configured algorithm, sharing one fresh nonce."""
        nonce = self.make_nonce(now)
        return [
            str(
                DigestChallenge(
                    realm=self.config.realm,
                    nonce=nonce,
                    algorithm=alg,
                    algorithm_token=alg.value,
                    qop=tuple(q.value for q in self.config.qop),
                    opaque=self.config.opaque,
                    stale=stale,
                    userhash=self.config.userhash,
                )
            )
            for alg in self.config.algorithms
        ]

    def _reject(self, status: AuthStatus, now: float, username: str | None = None) -> AuthResult:
        return AuthResult(
            status=status,
            username=username,
            status_code=self.status_code,
            header_name=self.header_name,
            challenges=tuple(self.challenge(now, stale=status is AuthStatus.STALE)),
        )

    def _nonce_issued(self, nonce: str) -> float | None:
        """Issue time of a nonce we signed, or None when it is not ours."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _NONCE_LEN:
            return None
        body, mac = raw[: _NONCE.size], raw[_NONCE.size :]
        expected = hmac.digest(self._secret, body + self.config.realm.encode(), "sha256")
        if not hmac.compare_digest(mac, expected[:_MAC_LEN]):
            return None
        issued_ms, _ = _NONCE.unpack(body)
        return float(issued_ms) / 1000.0

    # -- verification -------------------------------------------------------------------------
    def verify(
        self,
        *,
        method: str,
        authorization: str | Sequence[str] | None,
        now: float,
        body: bytes = b"",
        request_uri: str | None = None,
    ) -> AuthResult:
        """Check one request's Authorization (or Proxy-Authorization) header value.

        ``request_uri``, when given, must equal the credentials' ``uri`` (RFC 7616 §3.4.6).
        ``authorization`` may be every such header of the request (one per realm, RFC 3261
        §22.3): the one for our realm is used. Never raises on peer input: malformed
        credentials give ``MALFORMED``.
        """
        if authorization is not None and not isinstance(authorization, str):
            authorization = self._ours(authorization)
        if authorization is None:
            return self._reject(AuthStatus.MISSING, now)
        try:
            creds = parse_credentials(authorization)
        except ParseError:
            return self._reject(AuthStatus.MALFORMED, now)
        if creds.realm != self.config.realm:
            return self._reject(AuthStatus.WRONG_REALM, now, creds.username)
        algorithm = creds.algorithm
        if algorithm is None or algorithm not in self.config.algorithms:
            return self._reject(AuthStatus.UNSUPPORTED, now, creds.username)
        qop: Qop | None
        if creds.qop is None:
            if not self.config.allow_no_qop:
                return self._reject(AuthStatus.UNSUPPORTED, now, creds.username)
            qop = None
        else:
            qop = next((q for q in self.config.qop if q.value == creds.qop.lower()), None)
            if qop is None:
                return self._reject(AuthStatus.UNSUPPORTED, now, creds.username)
        if request_uri is not None and creds.uri != request_uri:
            return self._reject(AuthStatus.URI_MISMATCH, now, creds.username)
        issued = self._nonce_issued(creds.nonce)
        if issued is None:
            return self._reject(AuthStatus.BAD_NONCE, now, creds.username)
        if now - issued > self.config.nonce_lifetime or issued - now > 1.0:
            # RFC 7616 §3.3 stale: the nonce is ours but old; the client retries silently.
            return self._reject(AuthStatus.STALE, now, creds.username)
        nc = 1
        if qop is not None:
            assert creds.nc is not None  # parse_credentials guarantees nc with qop
            if len(creds.nc) != 8:
                return self._reject(AuthStatus.MALFORMED, now, creds.username)
            try:
                nc = int(creds.nc, 16)
            except ValueError:
                return self._reject(AuthStatus.MALFORMED, now, creds.username)
            if nc == 0:
                return self._reject(AuthStatus.MALFORMED, now, creds.username)
        stored = self._lookup(creds, algorithm)
        if stored is None:
            return self._reject(AuthStatus.UNKNOWN_USER, now, creds.username)
        ha1 = stored.ha1_for(algorithm)
        if ha1 is None:
            return self._reject(AuthStatus.UNKNOWN_USER, now, creds.username)
        expected = compute_response(
            algorithm=algorithm,
            ha1=ha1,
            method=method,
            uri=creds.uri,
            nonce=creds.nonce,
            qop=qop,
            nc=creds.nc or "",
            cnonce=creds.cnonce or "",
            body=body,
        )
        # Constant-time comparison (RFC 7616 §5.x timing advice); case-insensitive hex.
        if not hmac.compare_digest(expected.encode(), creds.response.lower().encode()):
            return self._reject(AuthStatus.BAD_RESPONSE, now, stored.username)
        # Counts are committed only after the response verified, so garbage cannot burn them.
        verdict = self._accept_count(
            creds.nonce.encode(), issued, nc, now=now, single_use=qop is None
        )
        if verdict is not AuthStatus.OK:
            return self._reject(verdict, now, stored.username)
        return AuthResult(
            status=AuthStatus.OK,
            username=stored.username,
            status_code=self.status_code,
            header_name=self.header_name,
        )

    def _ours(self, values: Sequence[str]) -> str | None:
        for value in values:
            try:
                if parse_credentials(value).realm == self.config.realm:
                    return value
            except ParseError:
                continue
        return values[0] if values else None

    def _lookup(self, creds: DigestCredentials, algorithm: Algorithm) -> StoredCredential | None:
        if creds.userhash:
            return self.store.lookup_userhash(creds.username, creds.realm, algorithm)
        return self.store.lookup(creds.username, creds.realm)

    def _accept_count(
        self, nonce: bytes, issued: float, nc: int, *, now: float, single_use: bool
    ) -> AuthStatus:
        """Record ``nc`` for ``nonce`` (RFC 7616 §3.4 replay check); OK, REPLAY or STALE."""
        # Expired nonces are rejected as stale before we get here: forget them first.
        horizon = now - self.config.nonce_lifetime
        while self._nonces:
            oldest = next(iter(self._nonces.values()))
            if oldest.issued >= horizon:
                break
            self._nonces.popitem(last=False)
        state = self._nonces.get(nonce)
        if state is None:
            if issued <= self._evicted_until:
                # Possibly evicted with counts we no longer know: ask for a new nonce.
                return AuthStatus.STALE
            state = _NonceState(issued=issued)
            self._nonces[nonce] = state
            while len(self._nonces) > self.config.max_tracked_nonces:
                _, old = self._nonces.popitem(last=False)
                self._evicted_until = max(self._evicted_until, old.issued)
        else:
            self._nonces.move_to_end(nonce)
            if single_use:
                return AuthStatus.STALE
        if nc > state.max_nc:
            shift = min(nc - state.max_nc, self.REPLAY_WINDOW)
            state.window = ((state.window << shift) | 1) & ((1 << self.REPLAY_WINDOW) - 1)
            state.max_nc = nc
            return AuthStatus.OK
        offset = state.max_nc - nc
        if offset >= self.REPLAY_WINDOW or state.window >> offset & 1:
            return AuthStatus.REPLAY
        state.window |= 1 << offset
        return AuthStatus.OK

    def tracked_nonces(self) -> int:
        """How many nonces' counts are held (bounded by ``max_tracked_nonces``)."""
        return len(self._nonces)
