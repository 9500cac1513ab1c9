"""The C accelerator's own AES and SHA-1 against the standards' vectors, through its private
test entries: FIPS 197 Appendix C (AES-128/192/256 ECB), SP 800-38A F.5.1/F.5.3/F.5.5
(CTR), FIPS 180 examples (SHA-1) and RFC 2202 §3 (HMAC-SHA1), each on both SHA-1 paths
(SHA-NI and portable C; on a CPU without SHA-NI both are the portable one)."""

from __future__ import annotations

import hashlib
import hmac
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.srtp import _transform

from .conftest import use_path, NATIVE_CM

NATIVE = _transform.load_native_module()
needs_native = pytest.mark.skipif(NATIVE is None, reason="_srtp_native is not built")
needs_aesni = pytest.mark.skipif(NATIVE_CM is None, reason="_srtp_native or AES-NI missing")
h = bytes.fromhex


@pytest.fixture(autouse=True)
def srtp_path(monkeypatch: pytest.MonkeyPatch) -> str:
    # Overrides conftest's two-path fixture: these test the C module directly; run once,
    # with the accelerator loaded.
    use_path("native", monkeypatch)
    return "native"


def _mod() -> ModuleType:
    assert NATIVE is not None
    return NATIVE


# FIPS 197 Appendix C.1-C.3: plaintext 00112233..ff under keys 000102.. of 128/192/256 bits.
FIPS197 = [
    ("000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a"),
    ("000102030405060708090a0b0c0d0e0f1011121314151617", "dda97ca4864cdfe06eaf70a0ec0d7191"),
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "8ea2b7ca516745bfeafc49904b496089"),
]

# SP 800-38A Appendix F.5.1, F.5.3, F.5.5 (CTR-AES128/192/256.Encrypt).
SP800_38A_CTR = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
SP800_38A_PLAIN = h(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
SP800_38A = [
    ("2b7e151628aed2a6abf7158809cf4f3c",
     "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
     "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"),
    ("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
     "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
     "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050"),
    ("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
     "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"),
]

# FIPS 180-2 Appendix A examples (one block, two blocks, a million 'a').
SHA1 = [
    (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
    (b"a" * 1_000_000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
    (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
]

# RFC 2202 §3 test cases 1-7.
RFC2202 = [
    (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    (bytes(range(1, 26)), b"\xcd" * 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
    (b"\x0c" * 20, b"Test With Truncation", "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
    (b"\xaa" * 80,
     b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
     "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
]


@needs_aesni
@pytest.mark.parametrize("key,cipher", FIPS197)
def test_aes_fips197(key: str, cipher: str) -> None:
    # Counter mode over one zero block is the block cipher applied to the counter.
    assert _mod()._aes_ctr(h(key), h("00112233445566778899aabbccddeeff"), bytes(16)).hex() == cipher


@needs_aesni
@pytest.mark.parametrize("key,cipher", SP800_38A)
def test_aes_ctr_sp800_38a(key: str, cipher: str) -> None:
    mod = _mod()
    assert mod._aes_ctr(h(key), SP800_38A_CTR, SP800_38A_PLAIN).hex() == cipher
    assert mod._aes_ctr(h(key), SP800_38A_CTR, h(cipher)) == SP800_38A_PLAIN
    # Partial last block: a prefix of the full result.
    assert mod._aes_ctr(h(key), SP800_38A_CTR, SP800_38A_PLAIN[:37]).hex() == cipher[:74]


@needs_native
@pytest.mark.parametrize("portable", [False, True], ids=["sha-ni", "portable"])
@pytest.mark.parametrize("data,digest", SHA1, ids=["abc", "two-blocks", "million-a", "empty"])
def test_sha1_fips180(data: bytes, digest: str, portable: bool) -> None:
    assert _mod()._sha1(data, portable).hex() == digest


@needs_native
@pytest.mark.parametrize("portable", [False, True], ids=["sha-ni", "portable"])
@pytest.mark.parametrize("key,data,mac", RFC2202)
def test_hmac_sha1_rfc2202(key: bytes, data: bytes, mac: str, portable: bool) -> None:
    assert _mod()._hmac_sha1(key, data, portable).hex() == mac


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=100))
def test_sha1_and_hmac_every_length(data: bytes, key: bytes) -> None:
    # Every padding boundary (55/56/63/64 bytes...) on both paths, against hashlib.
    mod = _mod()
    for portable in (False, True):
        assert mod._sha1(data, portable) == hashlib.sha1(data).digest()
        assert mod._hmac_sha1(key, data, portable) == hmac.new(key, data, "sha1").digest()


@needs_aesni
@settings(max_examples=200, deadline=None)
@given(st.sampled_from([16, 24, 32]), st.binary(min_size=32, max_size=32),
       st.binary(min_size=16, max_size=16), st.binary(max_size=300))
def test_aes_ctr_against_cryptography(klen: int, key: bytes, ctr: bytes, data: bytes) -> None:
    # Full 128-bit counter arithmetic (carries across the 64-bit halves), every tail length.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    ref = Cipher(algorithms.AES(key[:klen]), modes.CTR(ctr)).encryptor().update(data)
    assert _mod()._aes_ctr(key[:klen], ctr, data) == ref


@needs_aesni
def test_counter_carries() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes(range(16))
    for ctr in (b"\xff" * 16, bytes(8) + b"\xff" * 8, bytes(15) + b"\xfe"):
        ref = Cipher(algorithms.AES(key), modes.CTR(ctr)).encryptor().update(bytes(200))
        assert _mod()._aes_ctr(key, ctr, bytes(200)) == ref


@needs_aesni
def test_bad_arguments() -> None:
    mod = _mod()
    with pytest.raises(ValueError):
        mod._aes_ctr(bytes(15), bytes(16), b"")
    with pytest.raises(ValueError):
        mod._aes_ctr(bytes(16), bytes(15), b"")
    with pytest.raises(ValueError):
        mod.CmContext(bytes(16), bytes(13), bytes(20), 10, 128, False, True, 1 << 48)
    with pytest.raises(ValueError):
        mod.CmContext(bytes(16), bytes(14), bytes(20), 21, 128, False, True, 1 << 48)
    with pytest.raises(ValueError):
        mod.CmContext(bytes(16), bytes(14), bytes(20), 10, 63, False, True, 1 << 48)
    with pytest.raises(ValueError):
        mod.ReplayWindow(1 << 15, 0)
    with pytest.raises(TypeError):
        mod.CmContext(bytes(16), bytes(14), bytes(20), 10, 128, False, True, 1 << 48).protect(
            b"", [], None)
