"""The optional C XOR against a plain Python XOR, its bounds checks, and its switches."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.srtp import _transform
from tests.codecs.native import probe

from .conftest import NATIVE_XOR

needs_native = pytest.mark.skipif(NATIVE_XOR is None, reason="_srtp_native is not built")


def _reference(data: bytes, start: int, end: int, ks: bytes, off: int) -> bytes:
    return data[:start] + bytes(a ^ b for a, b in zip(data[start:end], ks[off:off + end - start]))


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=400), st.data())
def test_xor_tail_matches_python(data: bytes, ks: bytes, draw: st.DataObject) -> None:
    assert NATIVE_XOR is not None
    start = draw.draw(st.integers(-3, len(data) + 3))
    end = draw.draw(st.integers(-3, len(data) + 3))
    off = draw.draw(st.integers(-3, len(ks) + 3))
    ok = 0 <= start <= end <= len(data) and 0 <= off and end - start <= len(ks) - off
    if ok:
        assert NATIVE_XOR(data, start, end, ks, off) == _reference(data, start, end, ks, off)
    else:
        # Attacker-controlled lengths: refused, never a read outside either buffer.
        with pytest.raises(ValueError):
            NATIVE_XOR(data, start, end, ks, off)


@needs_native
def test_xor_tail_rejects_huge_and_wrong_types() -> None:
    assert NATIVE_XOR is not None
    with pytest.raises(OverflowError):
        NATIVE_XOR(b"abc", 0, 1 << 70, b"abc", 0)
    with pytest.raises(ValueError):
        NATIVE_XOR(b"abc", 0, 3, b"abc", (1 << 62))
    with pytest.raises(TypeError):
        NATIVE_XOR("abc", 0, 3, b"abc", 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE_XOR(b"abc", 0, 3, b"abc")  # type: ignore[call-arg]


def test_xor_keystream_same_on_both_paths(monkeypatch: pytest.MonkeyPatch, srtp_path: str) -> None:
    # RFC 3711 B.2 keystream: AES-CM of zeros is the keystream itself on either path.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    iv = int("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", 16)
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update
    ks = _transform.xor_keystream(ecb, iv, bytes(48))
    assert ks.hex().upper() == (
        "E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0"
    )


@needs_native
def test_switches() -> None:
    code = "from rvoip_sansio.srtp import _transform as t; print(t.XOR_TAIL is None)"
    assert probe(code) == "False"
    assert probe(code, RVOIP_PURE="1") == "True"
    assert probe(code, RVOIP_SRTP_PURE="1") == "True"
    assert probe(code, RVOIP_SRTP_PURE="0") == "False"
    # The per-packet C context (and every session's use of it) follows the same switches.
    cm = ("from rvoip_sansio.srtp import SrtpSession as S; "
          "print(S('AES_CM_128_HMAC_SHA1_80', bytes(30))._cx is None)")
    assert probe(cm, RVOIP_PURE="1") == "True"
    assert probe(cm, RVOIP_SRTP_PURE="1") == "True"


@needs_native
def test_stale_build_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_transform, "_NATIVE_ABI", _transform._NATIVE_ABI + 1)
    assert _transform.load_native() is None
    assert _transform.load_cm_context() is None
