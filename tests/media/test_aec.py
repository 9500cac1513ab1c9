"""Echo canceller, measured (not certified): ERLE on synthetic room echo paths with and
without double talk, residual suppression, echo path change. Figures printed with -s."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import signal

from rvoip_sansio.media.aec import EchoCanceller, EchoCancellerConfig
from rvoip_sansio.media.sources import speech_like, white_noise

from ._measure import room_impulse_response

DUR = 10.0


def _far(rate: int, kind: str) -> np.ndarray:
    if kind == "white":
        return white_noise(rate, DUR, level_dbov=-20, rng=random.Random(1)).astype(float)
    x, _ = speech_like(rate, DUR, level_dbov=-20, rng=random.Random(1), pause_fraction=0.1)
    return x.astype(float)


def _run(
    rate: int, kind: str, ir_len: float, *, double_talk: bool = False, res: bool = False,
    path_change: bool = False,
) -> dict[str, object]:
    far = _far(rate, kind)
    h = room_impulse_response(rate, ir_len, 3)
    echo = signal.lfilter(h, 1, far)
    if path_change:  # the talker moves at 5 s: a different room response from then on
        h2 = room_impulse_response(rate, ir_len, 4)
        echo[int(5 * rate) :] = signal.lfilter(h2, 1, far)[int(5 * rate) :]
    noise = white_noise(rate, DUR, level_dbov=-65, rng=random.Random(2)).astype(float)
    near = np.zeros_like(far)
    if double_talk:
        talk, _ = speech_like(rate, DUR, level_dbov=-20, rng=random.Random(7))
        near[int(4 * rate) : int(7 * rate)] = talk[int(4 * rate) : int(7 * rate)]
    mic = np.clip(np.rint(echo + near + noise), -32768, 32767).astype(np.int16)
    aec = EchoCanceller(rate, config=EchoCancellerConfig(residual_suppression=res))
    f = rate // 50
    out = np.concatenate([aec.process(mic[i : i + f], far[i : i + f].astype(np.int16)) for i in range(0, len(mic), f)])
    lat = aec.latency
    resid = out[lat:].astype(float) - (near + noise)[: len(out) - lat]
    ech = echo[: len(out) - lat]

    def erle(a: float, b: float) -> float:
        i, j = int(a * rate), min(int(b * rate), len(resid))
        w = rate // 10
        j = i + (j - i) // w * w
        # Only where there is echo to cancel (far end talking): windows of 100 ms whose
        # echo is at least 20 dB above the near-end noise.
        e2 = ech[i:j].reshape(-1, w) ** 2
        r2 = resid[i:j].reshape(-1, w) ** 2
        keep = e2.mean(axis=1) > 100 * np.mean(noise**2)
        if not keep.any():
            return float("nan")
        return float(10 * np.log10(e2[keep].sum() / r2[keep].sum()))

    curve = [erle(t, t + 0.5) for t in np.arange(0, DUR, 0.5)]
    return {"erle": erle, "curve": curve, "aec": aec}


def _show(label: str, curve: list[float]) -> None:
    print(f"\n[aec] {label}: ERLE per 0.5 s: " + " ".join(f"{v:.0f}" for v in curve), end="")


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize(("kind", "ir_len"), [("white", 0.064), ("white", 0.128), ("speech", 0.064), ("speech", 0.128)])
def test_erle_single_talk(rate: int, kind: str, ir_len: float) -> None:
    r = _run(rate, kind, ir_len)
    erle = r["erle"]
    assert callable(erle)
    converged = erle(5.0, DUR)
    _show(f"{rate} Hz {kind} far end, {ir_len * 1000:.0f} ms room, single talk (converged {converged:.1f} dB)", r["curve"])  # type: ignore[arg-type]
    assert converged >= 20.0


@pytest.mark.parametrize("rate", [8000, 16000])
def test_double_talk_does_not_diverge_the_filter(rate: int) -> None:
    st = _run(rate, "speech", 0.128)
    dt = _run(rate, "speech", 0.128, double_talk=True)
    st_erle, dt_erle = st["erle"], dt["erle"]
    assert callable(st_erle) and callable(dt_erle)
    during, after = dt_erle(4.0, 7.0), dt_erle(7.0, DUR)
    ref_during, ref_after = st_erle(4.0, 7.0), st_erle(7.0, DUR)
    _show(f"{rate} Hz double talk 4-7 s (ERLE during {during:.1f} vs {ref_during:.1f} single talk; after {after:.1f} vs {ref_after:.1f})", dt["curve"])  # type: ignore[arg-type]
    aec = dt["aec"]
    assert isinstance(aec, EchoCanceller) and aec.blocks_frozen > 0
    assert during >= ref_during - 6.0 and during >= 15.0
    assert after >= ref_after - 5.0 and after >= 20.0


@pytest.mark.parametrize("rate", [8000, 16000])
def test_residual_echo_suppression_adds_attenuation(rate: int) -> None:
    plain = _run(rate, "speech", 0.128)
    res = _run(rate, "speech", 0.128, res=True)
    p, q = plain["erle"], res["erle"]
    assert callable(p) and callable(q)
    a, b = p(5.0, DUR), q(5.0, DUR)
    _show(f"{rate} Hz with residual echo suppression (converged {b:.1f} dB vs {a:.1f} without)", res["curve"])  # type: ignore[arg-type]
    assert b >= a + 3.0


def test_echo_path_change_reconverges() -> None:
    r = _run(16000, "white", 0.064, path_change=True)
    erle = r["erle"]
    assert callable(erle)
    _show("16 kHz echo path change at 5 s", r["curve"])  # type: ignore[arg-type]
    assert erle(8.0, DUR) >= 20.0


def test_no_far_end_passes_mic_through_and_errors() -> None:
    rate = 8000
    aec = EchoCanceller(rate)
    mic = white_noise(rate, 0.2, level_dbov=-30, rng=random.Random(1))
    out = aec.process(mic, np.zeros_like(mic))
    assert np.array_equal(out, mic)
    with pytest.raises(ValueError):
        aec.process(mic[:100], mic[:100])  # not a multiple of 10 ms
    with pytest.raises(ValueError):
        aec.process(mic[:160], mic[:80])
    with pytest.raises(ValueError):
        EchoCanceller(11025)


def test_erle_at_48khz_white_noise() -> None:
    r = _run(48000, "white", 0.064)
    erle = r["erle"]
    assert callable(erle)
    converged = erle(5.0, DUR)
    _show(f"48000 Hz white far end, 64 ms room (converged {converged:.1f} dB)", r["curve"])  # type: ignore[arg-type]
    assert converged >= 20.0
