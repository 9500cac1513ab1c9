"""SrtpSession: SRTP and SRTCP protect/unprotect for many SSRCs with one policy.

RFC 3711 §3.3 (SRTP), §3.4 (SRTCP), Appendix A (index estimation) and RFC 7714 (AES-GCM).
A session keeps one crypto context per SSRC and direction, created on first use (inbound
"any SSRC" like libsrtp's ``ssrc_any_inbound``, outbound per SSRC), bounded by
``max_streams``. Every failure raises :class:`SrtpError` before any state changes: the ROC,
the replay window and the key counters are committed only after the packet authenticated.

Sessions with one master key and no MKI hand each SRTP packet to the C accelerator's
``CmContext`` (``_srtp_native.c``: index, replay check, cipher, tag and commit in one call,
on the same stream table) when it is built and the CPU has AES-NI (AES-CM + HMAC-SHA1), or
AES-NI and PCLMULQDQ (AEAD_AES_*_GCM, RFC 7714); the rest, and SRTCP, run the Python code
below, which gives the same bytes, errors and state.
"""

from __future__ import annotations

import functools
import hmac
import logging
import struct
from typing import TYPE_CHECKING, Iterable, Sequence, Union

from cryptography.exceptions import InvalidTag

from . import _transform
from ._errors import SrtpError, SrtpErrorKind
from ._kdf import SessionKeys, derive_session_keys
from ._profiles import SrtpPolicy, SrtpProfile
from ._transform import (
    _PATTERNS, KS_CHUNK, KeyState, XorTail, counter_pattern, keystream_chunk,
    keystream_chunk_bytes, xor_keystream,
)

if TYPE_CHECKING:
    from ._srtp_native import CmContext, ReplayWindow

__all__ = ["SrtpSession"]

log = logging.getLogger("rvoip_sansio.srtp")

_HDR = struct.Struct("!BBHII")
_SEQ_SSRC = struct.Struct("!2xH4xI")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_ROC0 = bytes(4)  # the ROC of a stream's first 65,536 packets, as the HMAC input (§4.2)

AUTH = SrtpErrorKind.AUTH
REPLAY = SrtpErrorKind.REPLAY
MALFORMED = SrtpErrorKind.MALFORMED

# Failure codes of the C context (RC_* in _srtp_native.c) and what they mean here.
_NEW_STREAM = 7  # unknown SSRC: the stream rules below apply, then the C call is retried
_FALLBACK = 8  # a case the C code leaves to this module's Python path
_NATIVE_FAILURES: dict[int, tuple[SrtpErrorKind, str]] = {
    1: (MALFORMED, "not an SRTP/RTP packet (length, version or header)"),
    3: (REPLAY, "index is older than the replay window"),
    4: (REPLAY, "index was received already"),
    5: (AUTH, "HMAC-SHA1 tag does not verify"),
    6: (SrtpErrorKind.KEY_EXHAUSTED, "master key reached its SRTP packet limit"),
}


class _Replay:
    """Highest index seen and a bitmask window below it (RFC 3711 §3.3.2)."""

    __slots__ = ("hi", "bits")

    def __init__(self, first: int) -> None:
        self.hi = first - 1  # nothing received yet: the first index is "new"
        self.bits = 0

    def copy(self) -> _Replay:
        c = _Replay(0)
        c.hi, c.bits = self.hi, self.bits
        return c


#: A stream's RTP replay state: the C ReplayWindow in sessions with a C context.
_RtpReplay = Union[_Replay, "ReplayWindow"]


class _Stream:
    """Per-SSRC state of one direction: RTP index/window and SRTCP index/window, and the
    AES-CM keystream of the packets ``ks_q .. ks_q + KS_CHUNK - 1`` made ahead (a cache:
    the keystream is a function of key, SSRC and index only, RFC 3711 §4.1.1)."""

    __slots__ = ("rtp", "rtcp", "rtcp_next", "ks_key", "ks_q", "ks_len", "ks", "kb")

    def __init__(self) -> None:
        self.rtp: _RtpReplay | None = None
        self.rtcp: _RtpReplay | None = None  # (the same types as rtp)
        self.rtcp_next = 1  # libsrtp numbers SRTCP from 1
        self.ks_key: KeyState | None = None
        self.ks_q = -1
        self.ks_len = 0  # bytes of each cached keystream (whole blocks)
        #: Pure path: one little-endian int per packet (an empty tuple until the first
        #: chunk: nothing for the garbage collector in sessions on the C path).
        self.ks: Sequence[int] = ()
        self.kb = b""  # C path: the chunk as bytes, packet p's keystream at p * ks_len


@functools.lru_cache(maxsize=64)
def _window_mask(window: int) -> int:
    """``(1 << window) - 1``, one int object per window size shared by every session (a
    per-session 128-bit int is one more object for each full garbage collection to touch)."""
    return (1 << window) - 1


def _header_len(data: bytes, n: int) -> int:
    """RTP header length incl. CSRCs and extension (RFC 3550 §5.1, §5.3.1); 0 if malformed."""
    if n < 12:
        return 0
    b0 = data[0]
    if b0 >> 6 != 2:
        return 0
    hlen = 12 + ((b0 & 0x0F) << 2)
    if b0 & 0x10:
        if n < hlen + 4:
            return 0
        hlen += 4 + (_U16.unpack_from(data, hlen + 2)[0] << 2)
    return hlen if hlen <= n else 0


class SrtpSession:
    """SRTP/SRTCP crypto contexts of any number of SSRCs under one policy.

    ``SrtpSession(profile, key)`` with the master key and salt concatenated, or
    ``SrtpSession(policy)`` for MKIs, several master keys, lifetimes or a window size.
    Use one session per direction in a call (the peer keys each direction separately),
    though one session can protect and unprotect the same SSRC (separate contexts).
    """

    # What a session keeps for its whole life is kept small for the garbage collector (a
    # process with hundreds of calls walks every call's objects on each full collection):
    # the error counts and the MKI table are made when first needed, the single master key
    # of a session without MKI is only ``_tx_key``, and the C path's streams hold C replay
    # windows and no keystream list.
    __slots__ = (
        "policy", "_errors", "_aead", "_tag", "_window", "_mask", "_by_mki", "_mki_len",
        "_tx_key", "_enc_rtp", "_cm", "_repeat_ok", "_tx", "_rx", "_max_streams", "_accept",
        "_xor", "_cx",
    )

    def __init__(
        self,
        profile: SrtpProfile | str | SrtpPolicy,
        key: bytes | None = None,
        *,
        max_streams: int = 1024,
        accept_ssrcs: Iterable[int] | None = None,
    ) -> None:
        if isinstance(profile, SrtpPolicy):
            if key is not None:
                raise ValueError("give either a policy or a profile and a key")
            policy = profile
        else:
            if key is None:
                raise ValueError("a master key + salt is needed with a profile")
            policy = SrtpPolicy.from_key(profile, key)
        self.policy = policy
        spec = policy.profile.spec
        self._aead = spec.aead
        self._tag = spec.rtp_tag_len
        self._window = policy.window_size
        self._mask = _window_mask(policy.window_size)
        self._mki_len = len(policy.keys[0].mki)
        first = policy.keys[0]
        keys = derive_session_keys(policy.profile, first)
        self._tx_key = KeyState(policy.profile, first, keys)
        #: MKI -> key state, only in sessions with MKIs (several master keys need them).
        self._by_mki: dict[bytes, KeyState] | None = None
        if self._mki_len:
            self._by_mki = {first.mki: self._tx_key}
            for mk in policy.keys[1:]:
                self._by_mki[mk.mki] = KeyState(policy.profile, mk)
        self._enc_rtp = policy.encrypt_rtp
        self._cm = policy.encrypt_rtp and not spec.aead  # the inlined AES-CM fast path
        self._repeat_ok = policy.allow_repeat_tx
        self._xor = _transform.XOR_TAIL  # the C XOR when built (read here: tests switch it)
        self._tx: dict[int, _Stream] = {}
        self._rx: dict[int, _Stream] = {}
        self._max_streams = max_streams
        self._accept = None if accept_ssrcs is None else frozenset(accept_ssrcs)
        self._cx = self._make_cx(keys)
        self._errors: dict[SrtpErrorKind, int] | None = None

    @property
    def errors(self) -> dict[SrtpErrorKind, int]:
        """Count of refused packets per kind (every kind, 0 until one is refused)."""
        errors = self._errors
        if errors is None:
            errors = self._errors = {kind: 0 for kind in SrtpErrorKind}
        return errors

    def _tag_rtcp(self) -> int:
        return self.policy.profile.spec.rtcp_tag_len

    def _key_states(self) -> tuple[KeyState, ...]:
        """Every master key's state, in the policy's order."""
        return (self._tx_key,) if self._by_mki is None else tuple(self._by_mki.values())

    def _make_cx(self, ks: SessionKeys) -> CmContext | None:
        """The C context doing protect/unprotect in one call per packet: for AES-CM with
        HMAC-SHA1 or AES-GCM, one master key and no MKI, when the accelerator is built and
        the CPU has AES-NI (and PCLMULQDQ for GCM); ``None`` otherwise (the Python path).
        ``ks``: the session keys of ``_tx_key`` (the context keeps its own copy)."""
        cm = _transform.CM_CONTEXT
        if cm is None or self._mki_len:  # (several master keys always have MKIs)
            return None
        if self._aead and not _transform.CM_GCM:
            return None
        key = self._tx_key
        cx = cm(
            ks.rtp_key, ks.rtp_salt, b"" if self._aead else ks.rtp_auth, self._tag,
            self._window, self._repeat_ok, self._enc_rtp, key.rtp_limit,
            _transform.CM_PORTABLE_SHA, self._aead,
        )
        cx.count = key.rtp_count
        key.cx = cx  # the key's SRTP packet count lives in the context from now on
        key.release_ciphers()  # (made again if a packet is left to the Python path)
        return cx

    def _new_replay(self, first: int) -> _RtpReplay:
        """A stream's RTP replay state: the C one when the C context handles this session."""
        if self._cx is not None:
            return _transform.replay_window(self._window, first)
        return _Replay(first)

    def _native_failed(self, code: int, data: bytes, outbound: bool) -> bytes:
        """A C context's failure code: a new stream is checked (``max_streams``,
        ``accept_ssrcs``) and retried, a case left to Python goes there, the rest raise."""
        cx = self._cx
        assert cx is not None
        if code == _NEW_STREAM:
            ssrc = _SEQ_SSRC.unpack_from(data)[1]
            if outbound:
                self._stream(self._tx, ssrc)  # raises UNKNOWN_SSRC, else enters the table
                out = cx.protect(data, self._tx, None)
            else:
                # Enters the table only when the packet authenticates (as _adopt).
                out = cx.unprotect(data, self._rx, self._stream(self._rx, ssrc))
            if type(out) is bytes:
                return out
            code = out  # type: ignore[assignment]
        if code == _FALLBACK:
            return self._protect_py(data) if outbound else self._unprotect_py(data)
        kind, reason = _NATIVE_FAILURES[code]
        raise self._fail(kind, "GCM tag does not verify" if self._aead and kind is AUTH else reason)

    # ----------------------------------------------------------------- keys and streams
    @property
    def profile(self) -> SrtpProfile:
        return self.policy.profile

    def _named(self, mki: bytes) -> KeyState | None:
        """The state of the master key named ``mki`` (``b""`` without MKIs), or ``None``."""
        if self._by_mki is None:
            return self._tx_key if mki == self._tx_key.mki else None
        return self._by_mki.get(mki)

    def use_mki(self, mki: bytes) -> None:
        """Protect from now on with the master key named ``mki`` (RFC 3711 §8.1 re-keying)."""
        key = self._named(mki)
        if key is None:
            raise ValueError(f"no master key with MKI {mki.hex()}")
        self._tx_key = key

    def packet_counts(self, mki: bytes | None = None) -> tuple[int, int]:
        """(SRTP, SRTCP) packets processed under a master key (the active one by default)."""
        k = self._tx_key if mki is None else self._named(mki)
        if k is None:
            raise KeyError(mki)
        return k.rtp_count, k.rtcp_count

    def roc(self, ssrc: int, *, outbound: bool = True) -> int:
        """The rollover counter of an SSRC's stream (0 before any packet)."""
        st = (self._tx if outbound else self._rx).get(ssrc)
        if st is None or st.rtp is None:
            return 0
        return max(st.rtp.hi, 0) >> 16

    def ssrcs(self, *, outbound: bool = True) -> list[int]:
        return list(self._tx if outbound else self._rx)

    def remove_ssrc(self, ssrc: int) -> None:
        """Forget both directions' contexts of an SSRC (after RTCP BYE, say)."""
        self._tx.pop(ssrc, None)
        self._rx.pop(ssrc, None)

    def _fail(self, kind: SrtpErrorKind, reason: str) -> SrtpError:
        """Count a refused packet and make its error (raised by the caller)."""
        self.errors[kind] += 1  # (made on the first refusal)
        log.debug("SRTP/SRTCP packet refused: %s: %s", kind.value, reason)
        return SrtpError(kind, reason)

    def _stream(self, table: dict[int, _Stream], ssrc: int) -> _Stream:
        st = table.get(ssrc)
        if st is None:
            if self._accept is not None and ssrc not in self._accept:
                raise self._fail(SrtpErrorKind.UNKNOWN_SSRC, f"SSRC {ssrc:#010x} not accepted")
            if len(table) >= self._max_streams:
                raise self._fail(
                    SrtpErrorKind.UNKNOWN_SSRC,
                    f"SSRC {ssrc:#010x}: stream table full ({self._max_streams})",
                )
            st = _Stream()
            if table is self._tx:
                table[ssrc] = st
            # Inbound streams enter the table only once a packet authenticated (_adopt).
        return st

    def _adopt(self, ssrc: int, st: _Stream) -> None:
        if ssrc not in self._rx:
            self._rx[ssrc] = st

    def _key_for(self, data: bytes, end: int) -> KeyState:
        if not self._mki_len:
            return self._tx_key
        key = self._named(bytes(data[end - self._mki_len : end]))
        if key is None:
            raise self._fail(SrtpErrorKind.UNKNOWN_MKI, "MKI names no master key of this session")
        return key

    def _ks_fill(
        self, st: _Stream, key: KeyState, ssrc: int, index: int, length: int
    ) -> bytes | None:
        """On a cache miss for packet ``index``: a new chunk of ``KS_CHUNK`` packets for the
        sender's and in-order receiver's next packets (``None``: read it from the stream),
        else the keystream bytes of a one-off computation (an old, reordered index, an
        inactive key or a large packet)."""
        nblk = (length + 15) >> 4
        q = index & -KS_CHUNK
        ecb = key.rtp_ecb or key.rtp_cipher()
        if 0 < nblk <= 64 and key is self._tx_key and (st.ks_key is not key or q >= st.ks_q):
            salt = key.rtp_salt ^ (ssrc << 64) ^ (q << 16)
            if self._xor is None:
                st.ks = keystream_chunk(ecb, salt, nblk)
            else:
                st.kb = keystream_chunk_bytes(ecb, salt, nblk)
            st.ks_key = key
            st.ks_q = q
            st.ks_len = nblk << 4
            return None
        if not nblk:
            return b""
        rep, add = _PATTERNS.get(nblk) or counter_pattern(nblk)
        iv = key.rtp_salt ^ (ssrc << 64) ^ (index << 16)
        return ecb((iv * rep + add).to_bytes(nblk << 4, "big"))

    def _xor_cm_int(
        self, st: _Stream, key: KeyState, ssrc: int, index: int, data: bytes, hlen: int, end: int
    ) -> bytes:
        """:meth:`_xor_cm` without the C XOR: the keystream as one little-endian int per
        packet (the stream's ``ks``), XORed as ints."""
        length = end - hlen
        if st.ks_key is key and 0 <= (off := index - st.ks_q) < KS_CHUNK and length <= st.ks_len:
            ks = st.ks[off]
        else:
            one = self._ks_fill(st, key, ssrc, index, length)
            ks = st.ks[index - st.ks_q] if one is None else int.from_bytes(one[:length], "little")
        x = int.from_bytes(data[hlen:end], "little") ^ ks
        if length != st.ks_len:
            x &= (1 << (length << 3)) - 1
        return data[:hlen] + x.to_bytes(length, "little")

    def _xor_cm(
        self, st: _Stream, key: KeyState, ssrc: int, index: int, data: bytes, hlen: int, end: int
    ) -> bytes:
        """``data[:hlen]`` + AES-CM of ``data[hlen:end]`` (RFC 3711 §4.1.1) through the C XOR,
        from the stream's chunk of keystream bytes at the packet's offset."""
        xor: XorTail = self._xor  # type: ignore[assignment]
        length = end - hlen
        if st.ks_key is key and 0 <= (off := index - st.ks_q) < KS_CHUNK and length <= st.ks_len:
            return xor(data, hlen, end, st.kb, off * st.ks_len)
        one = self._ks_fill(st, key, ssrc, index, length)
        if one is None:
            return xor(data, hlen, end, st.kb, (index - st.ks_q) * st.ks_len)
        return xor(data, hlen, end, one, 0)

    # ------------------------------------------------------------------ index handling
    def _check(self, rp: _RtpReplay | None, index: int) -> None:
        if rp is None:
            return
        delta = index - rp.hi
        if delta > 0:
            return
        if -delta >= self._window:
            raise self._fail(REPLAY, f"index {index} is older than the replay window")
        if (rp.bits >> -delta) & 1:
            raise self._fail(REPLAY, f"index {index} was received already")

    def _commit(self, rp: _RtpReplay, index: int) -> None:
        delta = index - rp.hi
        if delta > 0:
            rp.bits = ((rp.bits << delta) | 1) & self._mask
            rp.hi = index
        else:
            rp.bits |= 1 << -delta

    # ----------------------------------------------------------------------- SRTP
    def protect(self, rtp: bytes) -> bytes:
        """RTP packet → SRTP packet (RFC 3711 §3.3)."""
        cx = self._cx
        if cx is not None:  # one C call: index, replay check, AES-CM, tag and commit
            out = cx.protect(rtp, self._tx, None)
            if type(out) is bytes:
                return out
            return self._native_failed(out, rtp, True)  # type: ignore[arg-type]
        return self._protect_py(rtp)

    def _protect_py(self, rtp: bytes) -> bytes:
        if type(rtp) is not bytes:
            rtp = bytes(rtp)  # bytearray / memoryview: the slicing below wants bytes
        # The hot path: RFC 3711 Appendix A index estimate, window check and commit inlined.
        n = len(rtp)
        if n >= 12 and rtp[0] == 0x80:
            hlen = 12  # the common case: no CSRC, no extension
        else:
            hlen = _header_len(rtp, n)
            if not hlen:
                raise self._fail(MALFORMED, "not an RTP packet (length, version or header)")
        seq, ssrc = _SEQ_SSRC.unpack_from(rtp)
        key = self._tx_key
        if key.rtp_count >= key.rtp_limit:
            raise self._fail(SrtpErrorKind.KEY_EXHAUSTED, "master key reached its SRTP packet limit")
        st = self._tx.get(ssrc) or self._stream(self._tx, ssrc)
        rp = st.rtp
        if rp is None:
            index = seq
        elif seq == ((hi := rp.hi) + 1) & 0xFFFF:
            index = hi + 1  # the next packet in order: what Appendix A gives, cheaper
        else:
            s_l = hi & 0xFFFF
            if s_l < 0x8000:
                index = ((hi >> 16) - 1 if seq - s_l > 0x8000 and hi >> 16 else hi >> 16) << 16 | seq
            else:
                index = ((hi >> 16) + 1 if s_l - 0x8000 > seq else hi >> 16) << 16 | seq
            if index <= hi:
                if not self._repeat_ok:
                    self._check(rp, index)
        if self._aead:
            # RFC 7714 §8.1-8.2 (_seal_rtp, inlined): IV = (SSRC, ROC, SEQ) XOR salt, the
            # header is the AAD.
            hdr = rtp[:hlen]
            out = hdr + key.rtp_gcm.encrypt(  # type: ignore[union-attr]
                (((ssrc << 48) | index) ^ key.rtp_salt).to_bytes(12, "big"), rtp[hlen:], hdr
            ) + key.mki
        elif not self._cm:
            out = self._seal_rtp(key, rtp, hlen, ssrc, index)
        else:
            # RFC 3711 §4.1.1 keystream (from the stream's chunk made ahead), §4.2 HMAC over
            # header, payload and ROC.
            if self._xor is not None:
                body = self._xor_cm(st, key, ssrc, index, rtp, hlen, n)
            else:
                body = self._xor_cm_int(st, key, ssrc, index, rtp, hlen, n)
            inner = key.rtp_inner.copy()  # type: ignore[union-attr]
            inner.update(body)
            inner.update(_ROC0 if index < 0x10000 else (index >> 16).to_bytes(4, "big"))
            outer = key.rtp_outer.copy()  # type: ignore[union-attr]
            outer.update(inner.digest())
            out = body + key.mki + outer.digest()[: self._tag]
        if rp is None:
            st.rtp = rp = self._new_replay(index)
        delta = index - rp.hi
        if delta > 0:
            rp.bits = ((rp.bits << delta) | 1) & self._mask
            rp.hi = index
        else:
            rp.bits |= 1 << -delta
        key.rtp_count += 1
        return out

    def protect_many(self, packets: Sequence[bytes]) -> list[bytes]:
        """Protect a batch: one AES call makes the keystream of all (AES-CM), numpy XORs it.

        Same output as ``[protect(p) for p in packets]``; all or nothing on error.
        """
        if self._cx is not None:
            return self._protect_many_c(packets)
        from ._batch import protect_many

        return protect_many(self, packets)

    def _protect_many_c(self, packets: Sequence[bytes]) -> list[bytes]:
        """protect_many with the C context: one C call per packet, the state of the batch's
        streams saved first and put back when a packet is refused (all or nothing)."""
        key = self._tx_key
        if key.rtp_count + len(packets) > key.rtp_limit:
            raise self._fail(SrtpErrorKind.KEY_EXHAUSTED, "batch would pass the master key's limit")
        tx = self._tx
        saved = []
        for ssrc in {_U32.unpack_from(p, 8)[0] for p in packets if len(p) >= 12}:
            st = tx.get(ssrc)
            saved.append((ssrc, st, None if st is None or st.rtp is None else st.rtp.copy()))
        count = key.rtp_count
        try:
            return [self.protect(p) for p in packets]
        except SrtpError:
            for ssrc, st, rp in saved:
                if st is None:
                    tx.pop(ssrc, None)
                else:
                    st.rtp = rp
            key.rtp_count = count
            raise

    def _seal_rtp(self, key: KeyState, rtp: bytes, hlen: int, ssrc: int, index: int) -> bytes:
        if self._aead:
            iv = ((ssrc << 48) | index) ^ key.rtp_salt
            gcm = key.rtp_gcm
            assert gcm is not None
            body = rtp[:hlen] + gcm.encrypt(iv.to_bytes(12, "big"), rtp[hlen:], rtp[:hlen])
            return body + key.mki if key.mki else body
        # AES-CM with encryption takes the inlined path in _protect; here UNENCRYPTED_SRTP.
        body = bytes(rtp)
        tag = key.rtp_hmac(body, index >> 16)[: self._tag]
        return body + key.mki + tag

    def unprotect(self, srtp: bytes) -> bytes:
        """SRTP packet → RTP packet; :class:`SrtpError` (AUTH, REPLAY, ...) when refused."""
        cx = self._cx
        if cx is not None:  # one C call: index, replay check, tag, AES-CM and commit
            out = cx.unprotect(srtp, self._rx, None)
            if type(out) is bytes:
                return out
            return self._native_failed(out, srtp, False)  # type: ignore[arg-type]
        return self._unprotect_py(srtp)

    def _unprotect_py(self, srtp: bytes) -> bytes:
        if type(srtp) is not bytes:
            srtp = bytes(srtp)
        # Hot path like _protect: estimate, window and commit inlined, nothing stored
        # before the tag verifies.
        n = len(srtp)
        tag_len = self._tag
        if n >= 12 and srtp[0] == 0x80:
            hlen = 12
        else:
            hlen = _header_len(srtp, n)
        end = n - self._mki_len - (0 if self._aead else tag_len)
        if not hlen or end - (tag_len if self._aead else 0) < hlen:
            raise self._fail(MALFORMED, "not an SRTP packet (length, version or header)")
        seq, ssrc = _SEQ_SSRC.unpack_from(srtp)
        key = self._key_for(srtp, n - (0 if self._aead else tag_len)) if self._mki_len else self._tx_key
        if key.rtp_count >= key.rtp_limit:
            raise self._fail(SrtpErrorKind.KEY_EXHAUSTED, "master key reached its SRTP packet limit")
        st = self._rx.get(ssrc) or self._stream(self._rx, ssrc)
        rp = st.rtp
        if rp is None:
            index = seq  # first packet: ROC 0 (RFC 3711 §3.3.1)
        elif seq == ((hi := rp.hi) + 1) & 0xFFFF:
            index = hi + 1  # the next packet in order: what Appendix A gives, cheaper
        else:
            s_l = hi & 0xFFFF  # RFC 3711 Appendix A
            if s_l < 0x8000:
                index = ((hi >> 16) - 1 if seq - s_l > 0x8000 and hi >> 16 else hi >> 16) << 16 | seq
            else:
                index = ((hi >> 16) + 1 if s_l - 0x8000 > seq else hi >> 16) << 16 | seq
            if index <= hi:
                self._check(rp, index)
        if self._aead:
            gcm = key.rtp_gcm
            assert gcm is not None
            iv = (((ssrc << 48) | index) ^ key.rtp_salt).to_bytes(12, "big")
            try:
                plain = srtp[:hlen] + gcm.decrypt(iv, srtp[hlen:end], srtp[:hlen])
            except InvalidTag:
                raise self._fail(AUTH, "GCM tag does not verify") from None
        else:
            body = srtp[:end]
            inner = key.rtp_inner.copy()  # type: ignore[union-attr]
            inner.update(body)
            inner.update(_ROC0 if index < 0x10000 else (index >> 16).to_bytes(4, "big"))
            outer = key.rtp_outer.copy()  # type: ignore[union-attr]
            outer.update(inner.digest())
            if not hmac.compare_digest(outer.digest()[:tag_len], srtp[n - tag_len :]):
                raise self._fail(AUTH, "HMAC-SHA1 tag does not verify")
            if self._enc_rtp:  # RFC 3711 §4.1.1, keystream from the stream's chunk
                if self._xor is not None:
                    plain = self._xor_cm(st, key, ssrc, index, srtp, hlen, end)
                else:
                    plain = self._xor_cm_int(st, key, ssrc, index, srtp, hlen, end)
            else:
                plain = body
        # Authenticated: now, and only now, the ROC, window and counters move.
        if rp is None:
            self._adopt(ssrc, st)
            st.rtp = rp = self._new_replay(index)
        delta = index - rp.hi
        if delta > 0:
            rp.bits = ((rp.bits << delta) | 1) & self._mask
            rp.hi = index
        else:
            rp.bits |= 1 << -delta
        key.rtp_count += 1
        return plain if type(plain) is bytes else bytes(plain)

    # ---------------------------------------------------------------------- SRTCP
    def protect_rtcp(self, rtcp: bytes) -> bytes:
        """RTCP (compound) packet → SRTCP packet (RFC 3711 §3.4, RFC 7714 §9)."""
        n = len(rtcp)
        if n < 8 or rtcp[0] >> 6 != 2:
            raise self._fail(MALFORMED, "not an RTCP packet (length or version)")
        ssrc = _U32.unpack_from(rtcp, 4)[0]
        key = self._tx_key
        if key.rtcp_count >= key.rtcp_limit:
            raise self._fail(SrtpErrorKind.KEY_EXHAUSTED, "master key reached its SRTCP packet limit")
        st = self._tx.get(ssrc) or self._stream(self._tx, ssrc)
        index = st.rtcp_next
        if index >= 1 << 31:
            raise self._fail(SrtpErrorKind.KEY_EXHAUSTED, "SRTCP index space used up")
        enc = self.policy.encrypt_rtcp
        trailer = ((0x80000000 if enc else 0) | index).to_bytes(4, "big")
        if self._aead:
            gcm = key.rtcp_gcm
            assert gcm is not None
            iv = (((ssrc << 48) | index) ^ key.rtcp_salt).to_bytes(12, "big")
            if enc:  # RFC 7714 §9.2: AAD = first 8 octets || E || index
                out = rtcp[:8] + gcm.encrypt(iv, rtcp[8:], rtcp[:8] + trailer) + trailer
            else:  # RFC 7714 §9.3: everything authenticated, nothing encrypted
                out = rtcp + gcm.encrypt(iv, b"", rtcp + trailer) + trailer
            out += key.mki
        else:
            if enc:
                iv = key.rtcp_salt ^ (ssrc << 64) ^ (index << 16)
                body = rtcp[:8] + xor_keystream(key.rtcp_cipher(), iv, rtcp[8:]) + trailer
            else:
                body = rtcp + trailer
            out = body + key.mki + key.rtcp_hmac(body)[: self._tag_rtcp()]
        st.rtcp_next = index + 1
        key.rtcp_count += 1
        return bytes(out)

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        """SRTCP packet → RTCP packet; :class:`SrtpError` when refused."""
        n = len(srtcp)
        tag_len = self._tag_rtcp()
        mki_len = self._mki_len
        if n < 8 + 4 + mki_len + tag_len or srtcp[0] >> 6 != 2:
            raise self._fail(MALFORMED, "not an SRTCP packet (length or version)")
        ssrc = _U32.unpack_from(srtcp, 4)[0]
        if self._aead:
            key = self._key_for(srtcp, n)
            t_at = n - mki_len - 4
        else:
            key = self._key_for(srtcp, n - tag_len)
            t_at = n - mki_len - tag_len - 4
        if key.rtcp_count >= key.rtcp_limit:
            raise self._fail(SrtpErrorKind.KEY_EXHAUSTED, "master key reached its SRTCP packet limit")
        word = _U32.unpack_from(srtcp, t_at)[0]
        enc = word >> 31
        index = word & 0x7FFFFFFF
        st = self._rx.get(ssrc) or self._stream(self._rx, ssrc)
        rp = st.rtcp
        self._check(rp, index)
        trailer = srtcp[t_at : t_at + 4]
        if self._aead:
            gcm = key.rtcp_gcm
            assert gcm is not None
            iv = (((ssrc << 48) | index) ^ key.rtcp_salt).to_bytes(12, "big")
            try:
                if enc:
                    plain = srtcp[:8] + gcm.decrypt(iv, srtcp[8:t_at], srtcp[:8] + trailer)
                else:
                    gcm.decrypt(iv, srtcp[t_at - 16 : t_at], srtcp[: t_at - 16] + trailer)
                    plain = srtcp[: t_at - 16]
            except InvalidTag:
                raise self._fail(AUTH, "GCM tag does not verify") from None
        else:
            tag = key.rtcp_hmac(srtcp[: t_at + 4])[:tag_len]
            if not hmac.compare_digest(tag, srtcp[n - tag_len :]):
                raise self._fail(AUTH, "HMAC-SHA1 tag does not verify")
            if enc:
                iv = key.rtcp_salt ^ (ssrc << 64) ^ (index << 16)
                plain = srtcp[:8] + xor_keystream(key.rtcp_cipher(), iv, srtcp[8:t_at])
            else:
                plain = srtcp[:t_at]
        if len(plain) < 8:
            raise self._fail(MALFORMED, "SRTCP packet shorter than an RTCP header")
        self._adopt(ssrc, st)
        if rp is None:
            # The C path's replay window (not tracked by the garbage collector) where the
            # session has a C context; the same hi and bits as _Replay.
            rp = st.rtcp = self._new_replay(index)
        self._commit(rp, index)
        key.rtcp_count += 1
        return bytes(plain)
