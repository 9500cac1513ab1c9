"""AGC: speech brought to the target level from quiet and loud talkers, noise gate, attack and
release times, no clipping, frame-size invariance. Figures printed with -s."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.media._levels import level_dbov
from rvoip_sansio.media.agc import AgcConfig, AutomaticGainControl
from rvoip_sansio.media.sources import speech_like, tone, white_noise


def _agc(rate: int, x: np.ndarray, frame: int | None = None, config: AgcConfig | None = None) -> np.ndarray:
    agc = AutomaticGainControl(rate, config=config)
    f = frame or rate // 50
    return np.concatenate([agc.process(x[i : i + f]) for i in range(0, len(x), f)])


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("talker_dbov", [-45.0, -35.0, -20.0, -10.0, -4.0])
def test_speech_reaches_target_level(rate: int, talker_dbov: float) -> None:
    s, act = speech_like(rate, 12.0, level_dbov=talker_dbov, rng=random.Random(3))
    noise = white_noise(rate, 12.0, level_dbov=talker_dbov - 30, rng=random.Random(4))
    x = np.clip(s.astype(int) + noise, -32768, 32767).astype(np.int16)
    y = _agc(rate, x)
    tail = slice(4 * rate, None)  # after convergence
    out_level = level_dbov(y[tail][act[tail]])
    clipped = int(np.sum(np.abs(y.astype(int)) >= 32767))
    print(f"\n[agc] {rate} Hz talker at {talker_dbov:.0f} dBov -> speech at {out_level:.1f} dBov (target -20), {clipped} samples at full scale", end="")
    assert abs(out_level - (-20.0)) <= 2.5
    assert clipped == 0


def test_noise_gate_does_not_pump_noise() -> None:
    rate = 8000
    x = white_noise(rate, 6.0, level_dbov=-60, rng=random.Random(1))
    y = _agc(rate, x)
    gain = level_dbov(y[rate:]) - level_dbov(x[rate:])
    print(f"\n[agc] noise alone at -60 dBov: gain {gain:.1f} dB (gate at -50 dBov)")
    assert abs(gain) <= 0.5
    # speech then a long pause of noise: the pause keeps the speech gain, it is not raised
    s, act = speech_like(rate, 4.0, level_dbov=-30, rng=random.Random(2))
    n = white_noise(rate, 10.0, level_dbov=-62, rng=random.Random(5))
    sig = n.astype(int)
    sig[: len(s)] += s
    agc = AutomaticGainControl(rate)
    out = np.concatenate([agc.process(np.clip(sig, -32768, 32767).astype(np.int16)[i : i + 160]) for i in range(0, len(sig), 160)])
    pause_gain = level_dbov(out[-rate * 3 :]) - level_dbov(n[-rate * 3 :])
    assert pause_gain <= 12.0  # what the speech needed (-30 -> -20), not the 30 dB maximum


def test_attack_and_release_times() -> None:
    rate = 16000
    quiet = tone(1000, rate, 3.0, level_dbm0=-40 + 6.18 + 3.01)  # sine at -40 dBov RMS
    loud = tone(1000, rate, 3.0, level_dbm0=-10 + 6.18 + 3.01)
    x = np.concatenate([quiet, loud, quiet, quiet])
    y = _agc(rate, x).astype(float)
    w = rate // 200
    lv = np.array([level_dbov(y[i : i + w]) for i in range(0, len(y) - w, w)])
    t = np.arange(len(lv)) * 0.005
    after = (t >= 3.0) & (t < 6.0)
    over_ms = float(np.sum(after & (lv > -20 + 7)) * 5)
    settle = np.nonzero(after & (np.abs(lv + 20) <= 3))[0]
    attack_ms = (t[settle[0]] - 3.0) * 1000
    down = np.nonzero((t >= 6.0) & (lv >= -20 - 3))[0]
    release_s = t[down[0]] - 6.0 if down.size else float("inf")
    # with a VAD's hint (speech=True throughout) no pause hold applies
    agc = AutomaticGainControl(rate)
    yv = np.concatenate([agc.process(x[i : i + 320], speech=True) for i in range(0, len(x), 320)]).astype(float)
    lv2 = np.array([level_dbov(yv[i : i + w]) for i in range(0, len(yv) - w, w)])
    down2 = np.nonzero((t >= 6.0) & (lv2 >= -20 - 3))[0]
    release_vad = t[down2[0]] - 6.0 if down2.size else float("inf")
    print(f"\n[agc] step +30 dB: {over_ms:.0f} ms more than 7 dB over target, within 3 dB after {attack_ms:.0f} ms; "
          f"step -30 dB: within 3 dB after {release_s:.2f} s ({release_vad:.2f} s with a VAD hint)")
    assert over_ms <= 10
    assert attack_ms <= 300
    assert release_s <= 5.0
    assert release_vad <= 3.0


def test_frame_size_invariance_and_bounds() -> None:
    rate = 8000
    s, _ = speech_like(rate, 3.0, level_dbov=-35, rng=random.Random(8))
    a = _agc(rate, s, frame=160)
    b = _agc(rate, s, frame=37)
    assert np.array_equal(a, b)
    agc = AutomaticGainControl(rate, config=AgcConfig(max_gain_db=6.0))
    agc.process(s)
    assert agc.gain_db <= 6.0
    with pytest.raises(ValueError):
        AutomaticGainControl(11025)
