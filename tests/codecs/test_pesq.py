"""ITU-T P.862 (PESQ) of a speech-like signal through each codec, beside the references'
scores, and with 5 % random packet loss with and without concealment (figures printed and
recorded as test properties; docs/codecs.md quotes them)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from rvoip_sansio.codecs import (
    alaw_decode,
    alaw_encode,
    get_codec,
    ulaw_decode,
    ulaw_encode,
)
from tests.codecs import peers
from tests.codecs.speechlike import speech_like
from tests.conftest import require_module

SECONDS = 8.0


def pesq_score(rate: int, ref: np.ndarray, deg: np.ndarray) -> float:
    pesq = require_module("pesq").pesq  # type: ignore[attr-defined]
    n = min(len(ref), len(deg))
    return float(pesq(rate, ref[:n].astype(np.float32), deg[:n].astype(np.float32),
                      "nb" if rate == 8000 else "wb"))


@pytest.fixture(scope="module")
def nb() -> np.ndarray:
    return speech_like(SECONDS, 8000, seed=21)


@pytest.fixture(scope="module")
def wb() -> np.ndarray:
    return speech_like(SECONDS, 16000, seed=22)


def test_g711_scores_match_audioop(nb: np.ndarray, record_property: Callable[..., None]) -> None:
    audioop = peers.audioop()
    ours_u = pesq_score(8000, nb, ulaw_decode(ulaw_encode(nb)))
    ref_u = pesq_score(8000, nb, np.frombuffer(
        audioop.ulaw2lin(audioop.lin2ulaw(nb.tobytes(), 2), 2), np.int16))
    ours_a = pesq_score(8000, nb, alaw_decode(alaw_encode(nb)))
    ref_a = pesq_score(8000, nb, np.frombuffer(
        audioop.alaw2lin(audioop.lin2alaw(nb.tobytes(), 2), 2), np.int16))
    print(f"\nPESQ-NB PCMU ours {ours_u:.3f} audioop {ref_u:.3f}; "
          f"PCMA ours {ours_a:.3f} audioop {ref_a:.3f}")
    record_property("pesq_pcmu", (ours_u, ref_u))
    record_property("pesq_pcma", (ours_a, ref_a))
    assert abs(ours_u - ref_u) <= 0.1 and abs(ours_a - ref_a) <= 0.1
    assert ours_u > 3.5 and ours_a > 3.5


def test_g722_scores_match_spandsp_and_g722_package(
    wb: np.ndarray, record_property: Callable[..., None]
) -> None:
    codec = get_codec("G722", plc=False)
    ours = np.concatenate([codec.decode(codec.encode(wb[i : i + 320]))
                           for i in range(0, len(wb), 320)])
    sp = peers.spandsp_g722()
    by_sp = sp.decode(sp.decoder(), sp.encode(sp.encoder(), wb))
    G722 = peers.g722_package()
    by_pkg = np.array(G722.G722(16000, 64000).decode(G722.G722(16000, 64000).encode(wb)),
                      dtype=np.int16)
    s_ours, s_sp, s_pkg = (pesq_score(16000, wb, y) for y in (ours, by_sp, by_pkg))
    print(f"\nPESQ-WB G.722 ours {s_ours:.3f} spandsp {s_sp:.3f} G722-package {s_pkg:.3f}")
    record_property("pesq_g722", (s_ours, s_sp, s_pkg))
    assert abs(s_ours - s_sp) <= 0.1 and abs(s_ours - s_pkg) <= 0.1
    assert s_ours > 3.5


def lossy(name: str, x: np.ndarray, conceal: bool, **opts: object) -> np.ndarray:
    """Encode 20 ms frames, lose 5 % of them (seeded), decode with or without concealment."""
    enc = get_codec(name, plc=False, **opts)  # type: ignore[arg-type]
    dec = get_codec(name, plc=conceal, **opts)  # type: ignore[arg-type]
    n = enc.info.frame_samples
    lost = np.random.default_rng(2024).random(len(x) // n) < 0.05
    out = []
    for k in range(len(x) // n):
        payload = enc.encode(x[k * n : (k + 1) * n])
        if lost[k]:
            out.append(dec.conceal() if conceal else np.zeros(n, np.int16))
        else:
            out.append(dec.decode(payload))
    return np.concatenate(out)


@pytest.mark.parametrize("name,rate", [("PCMU", 8000), ("PCMA", 8000), ("G722", 16000)])
def test_concealment_under_5_percent_loss(
    name: str, rate: int, nb: np.ndarray, wb: np.ndarray, record_property: Callable[..., None]
) -> None:
    x = nb if rate == 8000 else wb
    clean = pesq_score(rate, x, lossy_clean(name, x))
    without = pesq_score(rate, x, lossy(name, x, conceal=False))
    with_plc = pesq_score(rate, x, lossy(name, x, conceal=True))
    print(f"\nPESQ {name} no loss {clean:.3f}; 5% loss: silence {without:.3f}, "
          f"concealed {with_plc:.3f}")
    record_property(f"pesq_loss_{name}", (clean, without, with_plc))
    assert with_plc >= without - 0.05
    assert clean > with_plc


def lossy_clean(name: str, x: np.ndarray) -> np.ndarray:
    codec = get_codec(name, plc=False)
    n = codec.info.frame_samples
    return np.concatenate([codec.decode(codec.encode(x[i : i + n]))
                           for i in range(0, len(x) - len(x) % n, n)])


def test_opus_under_5_percent_loss(wb: np.ndarray, record_property: Callable[..., None]) -> None:
    x = wb
    lost = np.random.default_rng(2024).random(len(x) // 320) < 0.05
    scores = {}
    for mode in ("clean", "silence", "plc", "fec"):
        enc = get_codec("opus", sample_rate=16000, bitrate=24000, fec=mode == "fec",
                        packet_loss_perc=5 if mode == "fec" else 0)
        dec = get_codec("opus", sample_rate=16000)
        packets = [enc.encode(x[i : i + 320]) for i in range(0, len(x), 320)]
        out = []
        for k, p in enumerate(packets):
            if mode == "clean" or not lost[k]:
                out.append(dec.decode(p))
            elif mode == "silence":
                out.append(np.zeros(320, np.int16))
                dec.conceal()  # keep the decoder's timeline
            elif mode == "fec" and k + 1 < len(packets) and not lost[k + 1]:
                out.append(dec.decode_fec(packets[k + 1]))  # type: ignore[attr-defined]
            else:
                out.append(dec.conceal())
        scores[mode] = pesq_score(16000, x, np.concatenate(out))
    print("\nPESQ-WB Opus 24 kbit/s: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    record_property("pesq_opus", scores)
    assert scores["plc"] >= scores["silence"] - 0.05
    assert scores["fec"] >= scores["plc"] - 0.1
