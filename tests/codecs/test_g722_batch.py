"""The batch G.722 coder gives, per stream, exactly what the scalar coder (itself checked
against spandsp and the G722 package) gives."""

from __future__ import annotations

import numpy as np
import pytest

from rvoip_sansio.codecs import (
    CodecError,
    G722BatchDecoder,
    G722BatchEncoder,
    G722Decoder,
    G722Encoder,
)
from tests.codecs import peers
from tests.codecs.speechlike import mixed_test_signal

N = 6


@pytest.fixture(scope="module")
def signals() -> np.ndarray:
    return np.stack([mixed_test_signal(0.5, 16000, seed=100 + k) for k in range(N)])


def test_batch_encoder_equals_scalar_and_spandsp(signals: np.ndarray) -> None:
    enc = G722BatchEncoder(N)
    codes = np.concatenate([enc.encode(signals[:, i : i + 320]) for i in range(0, 8000, 320)],
                           axis=1)
    sp = peers.spandsp_g722()
    for k in range(N):
        assert codes[k].tobytes() == G722Encoder().encode(signals[k])
    assert codes[0].tobytes() == sp.encode(sp.encoder(), signals[0])


@pytest.mark.parametrize("bitrate", [64000, 56000, 48000])
def test_batch_decoder_equals_scalar(signals: np.ndarray, bitrate: int) -> None:
    enc = G722BatchEncoder(N)
    codes = enc.encode(signals)
    noise = np.random.default_rng(bitrate).integers(0, 256, (N, 1000)).astype(np.uint8)
    codes = np.concatenate([codes, noise], axis=1)  # every code word, overloads included
    dec = G722BatchDecoder(N, bitrate)
    out = np.concatenate([dec.decode(codes[:, i : i + 160])
                          for i in range(0, codes.shape[1], 160)], axis=1)
    for k in range(N):
        assert np.array_equal(out[k], G722Decoder(bitrate).decode(codes[k].tobytes()))


def test_batch_shape_errors() -> None:
    with pytest.raises(CodecError):
        G722BatchEncoder(2).encode(np.zeros((3, 320), np.int16))
    with pytest.raises(CodecError):
        G722BatchEncoder(2).encode(np.zeros((2, 321), np.int16))
    with pytest.raises(CodecError):
        G722BatchDecoder(2).decode(np.zeros((2, 10), np.int16))  # type: ignore[arg-type]
    with pytest.raises(CodecError):
        G722BatchEncoder(0)
