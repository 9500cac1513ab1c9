"""Types of the optional C accelerator (rvoip_sansio/srtp/_srtp_native.c)."""

_Buffer = bytes | bytearray | memoryview

ABI: int

def xor_tail(
    data: _Buffer, start: int, end: int, keystream: _Buffer, ks_offset: int, /
) -> bytes: ...
