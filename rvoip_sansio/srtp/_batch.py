"""Batch SRTP protection: the keystream of many packets in one AES call, XOR with numpy.

All packets are checked and indexed first; the session's state is committed only when the
whole batch is ready, so a bad packet in the batch raises before anything changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ._errors import SrtpErrorKind
from ._session import _HDR, MALFORMED, REPLAY, _header_len, _Stream

if TYPE_CHECKING:
    from ._session import SrtpSession

__all__ = ["protect_many"]

_ZEROS = bytes(16)


def protect_many(session: SrtpSession, packets: Sequence[bytes]) -> list[bytes]:
    """Protect ``packets`` in order, exactly as many ``protect`` calls would."""
    if not packets:
        return []
    key = session._tx_key
    if key.rtp_count + len(packets) > key.rtp_limit:
        raise session._fail(SrtpErrorKind.KEY_EXHAUSTED, "batch would pass the master key's limit")
    fast = _fast_path(session, packets)
    if fast is not None:
        return fast
    # 1. Headers and indices (RFC 3711 Appendix A) on working copies of the stream state.
    work: dict[int, list[int]] = {}
    fresh: set[int] = set()
    parsed: list[tuple[int, int, int]] = []
    window = session._window
    mask = session._mask
    repeat_ok = session._repeat_ok
    tx = session._tx
    for rtp in packets:
        n = len(rtp)
        hlen = 12 if n >= 12 and rtp[0] == 0x80 else _header_len(rtp, n)
        if not hlen:
            raise session._fail(MALFORMED, "not an RTP packet (length, version or header)")
        _, _, seq, _, ssrc = _HDR.unpack_from(rtp)
        state = work.get(ssrc)
        if state is None:
            st = tx.get(ssrc)
            if st is None:
                if len(tx) + len(fresh) >= session._max_streams or (
                    session._accept is not None and ssrc not in session._accept
                ):
                    raise session._fail(SrtpErrorKind.UNKNOWN_SSRC, f"SSRC {ssrc:#010x} refused")
                fresh.add(ssrc)
            rp = None if st is None else st.rtp
            state = work[ssrc] = [-1, 0, 0] if rp is None else [rp.hi, rp.bits, 1]
        hi, bits, started = state
        if not started:
            index = seq
            hi, bits = index, 1
        else:
            s_l = hi & 0xFFFF
            if s_l < 0x8000:
                index = ((hi >> 16) - 1 if seq - s_l > 0x8000 and hi >> 16 else hi >> 16) << 16 | seq
            else:
                index = ((hi >> 16) + 1 if s_l - 0x8000 > seq else hi >> 16) << 16 | seq
            delta = index - hi
            if delta > 0:
                bits = ((bits << delta) | 1) & mask
                hi = index
            else:
                if not repeat_ok and (-delta >= window or (bits >> -delta) & 1):
                    raise session._fail(REPLAY, f"index {index} was protected already")
                bits |= 1 << -delta
        state[0], state[1], state[2] = hi, bits, 1
        parsed.append((hlen, ssrc, index))
    # 2. Crypto.
    if session._aead or not session._enc_rtp:
        out = [
            session._seal_rtp(key, rtp, hlen, ssrc, index)
            for rtp, (hlen, ssrc, index) in zip(packets, parsed)
        ]
    else:
        out = _cm_batch(session, packets, parsed)
    # 3. Commit.
    for ssrc, (hi, bits, _) in work.items():
        st = tx.get(ssrc)
        if st is None:
            st = tx[ssrc] = _Stream()
        if st.rtp is None:
            st.rtp = session._new_replay(0)
        st.rtp.hi = hi
        st.rtp.bits = bits
    key.rtp_count += len(packets)
    return out


def _cm_batch(
    session: SrtpSession, packets: Sequence[bytes], parsed: list[tuple[int, int, int]]
) -> list[bytes]:
    key = session._tx_key
    salt = key.rtp_salt
    ivs: list[bytes] = []
    counts: list[int] = []
    chunks: list[bytes] = []
    for rtp, (hlen, ssrc, index) in zip(packets, parsed):
        length = len(rtp) - hlen
        nblk = (length + 15) >> 4
        counts.append(nblk)
        # RFC 3711 §4.1.1 IV; its low 16 bits are zero and become the block counter.
        ivs.append((salt ^ (ssrc << 64) ^ (index << 16)).to_bytes(16, "big"))
        chunks.append(rtp[hlen:])
        pad = (nblk << 4) - length
        if pad:
            chunks.append(_ZEROS[:pad])
    cnt = np.asarray(counts, dtype=np.int64)
    total = int(cnt.sum())
    blocks = np.repeat(np.frombuffer(b"".join(ivs), dtype=np.uint8).reshape(-1, 16), cnt, axis=0)
    starts = np.repeat(np.cumsum(cnt) - cnt, cnt)
    j = np.arange(total, dtype=np.int64) - starts
    blocks[:, 14] = (j >> 8).astype(np.uint8)
    blocks[:, 15] = (j & 0xFF).astype(np.uint8)
    ks = np.frombuffer(key.rtp_ecb(blocks.tobytes()), dtype=np.uint8)  # type: ignore[misc]
    enc = (np.frombuffer(b"".join(chunks), dtype=np.uint8) ^ ks).tobytes()
    inner0 = key.rtp_inner
    outer0 = key.rtp_outer
    assert inner0 is not None and outer0 is not None
    tag_len = session._tag
    mki = key.mki
    out: list[bytes] = []
    append = out.append
    off = 0
    for rtp, (hlen, _, index), nblk in zip(packets, parsed, counts):
        length = len(rtp) - hlen
        body = rtp[:hlen] + enc[off : off + length]
        off += nblk << 4
        inner = inner0.copy()
        inner.update(body)
        inner.update((index >> 16).to_bytes(4, "big"))
        outer = outer0.copy()
        outer.update(inner.digest())
        append(body + mki + outer.digest()[:tag_len])
    return out


_ARANGE = np.arange(1 << 16, dtype=np.int64)
_SHIFTS6 = np.arange(40, -1, -8, dtype=np.int64)
_BLOCKNO = np.arange(1 << 12, dtype=np.uint64)
_U16 = np.uint64(16)


def _fast_path(session: SrtpSession, packets: Sequence[bytes]) -> list[bytes] | None:
    """The usual sender's batch, vectorised: one SSRC already streaming, 12-byte headers,
    sequence numbers each 1..32767 ahead of the previous. ``None`` when it does not apply."""
    count = len(packets)
    if not session._enc_rtp or count > 0x8000:
        return None
    sizes = set(map(len, packets))
    if len(sizes) == 1 and (size := sizes.pop()) >= 12:
        # Equal sizes (one codec, one ptime): every packet is a row of one array, made by
        # one join (no per-packet slicing).
        whole = np.frombuffer(b"".join(packets), dtype=np.uint8).reshape(count, size)
        arr: np.ndarray | None = whole
        hdr = whole[:, :12]
    else:
        arr = None
        hdr_bytes = b"".join([p[:12] for p in packets])
        if len(hdr_bytes) != 12 * count:
            return None  # a packet shorter than an RTP header
        hdr = np.frombuffer(hdr_bytes, dtype=np.uint8).reshape(count, 12)
    first = packets[0]
    ssrc = int.from_bytes(first[8:12], "big")
    st = session._tx.get(ssrc)
    if st is None or st.rtp is None:
        return None
    if not ((hdr[:, 0] == 0x80).all() and (hdr[:, 8:12] == hdr[0, 8:12]).all()):
        return None
    rp = st.rtp
    hi = rp.hi
    seqs = (hdr[:, 2].astype(np.int64) << 8) | hdr[:, 3]
    ar = _ARANGE[:count]
    if not ((seqs - (hi + 1) - ar) & 0xFFFF).any():
        # Consecutive sequence numbers, the sender's normal case.
        index = hi + 1 + ar
        last = hi + count
        bits = (rp.bits << count) | ((1 << count) - 1)
    else:
        steps = np.empty(count, dtype=np.int64)
        steps[0] = seqs[0] - (hi & 0xFFFF)
        steps[1:] = seqs[1:] - seqs[:-1]
        steps &= 0xFFFF
        if not ((steps >= 1) & (steps < 0x8000)).all():
            return None
        # RFC 3711 Appendix A gives index = previous + step for every forward step < 2^15.
        index = hi + np.cumsum(steps)
        last = int(index[-1])
        bits = rp.bits << (last - hi)
        for i in index.tolist():
            bits |= 1 << (last - i)
    key = session._tx_key
    if session._aead:
        out = _gcm_fast(session, packets, ssrc, index)
    else:
        out = _cm_fast(session, packets, arr, hdr, ssrc, index)
    rp.bits = bits & session._mask
    rp.hi = last
    key.rtp_count += count
    return out


def _be_bytes(values: np.ndarray, width: int) -> np.ndarray:
    """Each int64 of ``values`` as 6 big-endian bytes (rows of a uint8 array)."""
    assert width == 6
    return ((values[:, None] >> _SHIFTS6) & 0xFF).astype(np.uint8)


def _gcm_fast(
    session: SrtpSession, packets: Sequence[bytes], ssrc: int, index: np.ndarray
) -> list[bytes]:
    key = session._tx_key
    gcm = key.rtp_gcm
    assert gcm is not None
    # RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; the top 48 bits are fixed.
    base = ((ssrc << 48) ^ key.rtp_salt)
    low = np.int64(base & 0xFFFFFFFFFFFF)
    ivs = np.empty((len(packets), 12), dtype=np.uint8)
    ivs[:, :6] = np.frombuffer((base >> 48).to_bytes(6, "big"), dtype=np.uint8)
    ivs[:, 6:] = _be_bytes(index ^ low, 6)
    flat = ivs.tobytes()
    enc = gcm.encrypt
    mki = key.mki
    return [
        p[:12] + enc(flat[o : o + 12], p[12:], p[:12]) + mki
        for p, o in zip(packets, range(0, 12 * len(packets), 12))
    ]


def _cm_fast(
    session: SrtpSession, packets: Sequence[bytes], arr: np.ndarray | None, hdr: np.ndarray,
    ssrc: int, index: np.ndarray,
) -> list[bytes]:
    key = session._tx_key
    count = len(packets)
    # RFC 3711 §4.1.1: IV = salt XOR SSRC*2^64 XOR index*2^16. Bytes 0..7 are fixed for one
    # SSRC; bytes 8..13 are the low 48 bits of (salt/2^16) XOR index; 14..15 count blocks.
    base = key.rtp_salt ^ (ssrc << 64)
    low = np.int64((base >> 16) & 0xFFFFFFFFFFFF)
    if arr is not None and arr.shape[1] > 12:
        # Equal sizes: one keystream array (whole blocks per packet, cut to the payload),
        # XORed into a copy of the packets' array; bodies are its rows.
        size = arr.shape[1]
        length = size - 12
        nblk = (length + 15) >> 4
        # Each counter block as two big-endian 64-bit words: the fixed top (salt, SSRC) and
        # (low 48 bits of salt XOR index) << 16 | block number.
        words = np.empty((count, nblk, 2), dtype=">u8")
        words[:, :, 0] = base >> 64
        words[:, :, 1] = ((index ^ low).astype(np.uint64) << _U16)[:, None] | (_BLOCKNO[:nblk] if nblk <= 4096 else np.arange(nblk, dtype=np.uint64))
        ks = np.frombuffer(key.rtp_ecb(words.tobytes()), dtype=np.uint8)  # type: ignore[misc]
        buf = np.empty((count, size), dtype=np.uint8)
        buf[:, :12] = hdr
        np.bitwise_xor(arr[:, 12:], ks.reshape(count, nblk << 4)[:, :length], out=buf[:, 12:])
        flat = buf.tobytes()
        bodies = [flat[o : o + size] for o in range(0, size * count, size)]
    else:
        head8 = np.frombuffer((base >> 64).to_bytes(8, "big"), dtype=np.uint8)
        mid6 = _be_bytes(index ^ low, 6)
        plen = np.fromiter(map(len, packets), dtype=np.int64, count=count) - 12
        nblks = (plen + 15) >> 4
        ivs = np.empty((count, 16), dtype=np.uint8)
        ivs[:, :8] = head8
        ivs[:, 8:14] = mid6
        ivs[:, 14:] = 0
        blocks = np.repeat(ivs, nblks, axis=0)
        j = _ARANGE[: len(blocks)] - np.repeat(np.cumsum(nblks) - nblks, nblks)
        blocks[:, 14] = (j >> 8).astype(np.uint8)
        blocks[:, 15] = (j & 0xFF).astype(np.uint8)
        ks = np.frombuffer(key.rtp_ecb(blocks.tobytes()), dtype=np.uint8)  # type: ignore[misc]
        chunks: list[bytes] = []
        for p, pad in zip(packets, ((-plen) & 15).tolist()):
            chunks.append(p[12:])
            if pad:
                chunks.append(_ZEROS[:pad])
        enc = (np.frombuffer(b"".join(chunks), dtype=np.uint8) ^ ks).tobytes()
        bodies = []
        off = 0
        for p, plain_len, nb in zip(packets, plen.tolist(), nblks.tolist()):
            bodies.append(p[:12] + enc[off : off + plain_len])
            off += nb << 4
    inner0, outer0 = key.rtp_inner, key.rtp_outer
    assert inner0 is not None and outer0 is not None
    tag_len = session._tag
    mki = key.mki
    rocs = index >> 16
    out: list[bytes] = []
    append = out.append
    icopy, ocopy = inner0.copy, outer0.copy
    if int(rocs[0]) == int(rocs[-1]):  # indices only grow: one ROC for the whole batch
        roc4 = int(rocs[0]).to_bytes(4, "big")
        for body in bodies:
            inner = icopy()
            inner.update(body)
            inner.update(roc4)
            outer = ocopy()
            outer.update(inner.digest())
            append(body + mki + outer.digest()[:tag_len])
        return out
    for body, roc in zip(bodies, rocs.tolist()):
        inner = icopy()
        inner.update(body)
        inner.update(roc.to_bytes(4, "big"))
        outer = ocopy()
        outer.update(inner.digest())
        append(body + mki + outer.digest()[:tag_len])
    return out
