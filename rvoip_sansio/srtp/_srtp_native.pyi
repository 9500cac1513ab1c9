"""Types of the optional C accelerator (rvoip_sansio/srtp/_srtp_native.c)."""

from typing import TypeVar

_Buffer = bytes | bytearray | memoryview
_T = TypeVar("_T")

ABI: int

def xor_tail(
    data: _Buffer, start: int, end: int, keystream: _Buffer, ks_offset: int, /
) -> bytes: ...
def cpu_features() -> tuple[bool, bool, bool]: ...
def _sha1(data: _Buffer, portable: bool, /) -> bytes: ...
def _hmac_sha1(key: _Buffer, data: _Buffer, portable: bool, /) -> bytes: ...
def _aes_ctr(key: _Buffer, counter: _Buffer, data: _Buffer, /) -> bytes: ...
def _aes_gcm(
    key: _Buffer, iv: _Buffer, aad: _Buffer, data: _Buffer, open: bool, /
) -> bytes | None: ...

class ReplayWindow:
    """RFC 3711 §3.3.2 replay state: highest index and a bitmap (bit k: index hi - k)."""

    hi: int
    bits: int
    def __init__(self, window: int, first: int) -> None: ...
    def copy(self) -> ReplayWindow: ...

class CmContext:
    """One SRTP direction, one master key, one call per packet: AES-CM + HMAC-SHA1, or
    with ``gcm=True`` AES-GCM (RFC 7714; ``auth_key`` empty, 12-byte salt, 16-byte tag)."""

    count: int
    def __init__(
        self, key: bytes, salt: bytes, auth_key: bytes, tag_len: int, window: int,
        repeat_ok: bool, encrypt: bool, limit: int, portable_sha: bool = False,
        gcm: bool = False,
    ) -> None: ...
    def protect(self, rtp: _Buffer, table: dict[int, _T], fresh: _T | None, /) -> bytes | int: ...
    def unprotect(self, srtp: _Buffer, table: dict[int, _T], fresh: _T | None, /) -> bytes | int: ...
