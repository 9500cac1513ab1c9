"""The C concealer gives the numpy concealer's samples, bit for bit.

The reference is the numpy path (``_plc.NATIVE = None``), itself checked against what
G.711 Appendix I specifies in test_plc.py (which runs on both paths). Identity is expected,
not approximate: the pitch scores are built from exact integer sums and every other step
is the same IEEE sequence (see _plc_native.c). The corpus covers speech-like signals,
tones (incl. exactly periodic ones, where several lags tie on the very same score), noise
and saturating squares at 8 and 16 kHz under random loss patterns and frame sizes;
hypothesis adds random sequences of frames, losses, resets and history writes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import G711Codec, WaveformConcealer, _plc, ulaw_decode, ulaw_encode
from tests.codecs.native import plc_native, probe
from tests.codecs.speechlike import speech_like


@pytest.fixture(scope="module")
def native() -> Iterator[ModuleType]:
    mod = plc_native()
    saved = _plc.NATIVE
    yield mod
    _plc.NATIVE = saved


def make(path: ModuleType | None, rate: int) -> WaveformConcealer:
    _plc.NATIVE = path
    plc = WaveformConcealer(rate)
    assert (plc._c is None) == (path is None)  # really the path asked for
    return plc


def tone(rate: int, seconds: float, freqs: tuple[float, ...], amp: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    return np.round(amp * x).astype(np.int16)


def signals(rate: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rate)
    n = 2 * rate
    return {
        "speech1": speech_like(2.0, rate, seed=1),
        "speech2": speech_like(2.0, rate, seed=2, level=0.9),  # loud: blends saturate
        "tone125": tone(rate, 2.0, (125.0,), 12000),
        "tone440": tone(rate, 2.0, (440.0,), 30000),
        "chord": tone(rate, 2.0, (150.0, 300.0, 450.0, 1000.0), 20000),
        # Period 40k samples exactly (200 Hz): lags 40k, 80k and 120k tie on equal scores.
        "periodic": np.tile(np.random.default_rng(7).integers(-9000, 9000, 40 * rate // 8000),
                            n // (40 * rate // 8000)).astype(np.int16),
        "noise": rng.integers(-32768, 32768, n).astype(np.int16),
        "square": np.where(np.arange(n) // (rate // 200) % 2, 32767, -32768).astype(np.int16),
        "quiet": rng.integers(-3, 4, n).astype(np.int16),  # energies below min_power
        "silence": np.zeros(n, np.int16),
    }


def run(plc: WaveformConcealer, x: np.ndarray, frame: int, lost: np.ndarray) -> tuple[
        np.ndarray, list[int]]:
    """Output samples and the pitch found at each loss."""
    out, pitches = [], []
    for i in range(len(x) // frame):
        if lost[i]:
            out.append(plc.conceal(frame))
            pitches.append(plc._pitch)
        else:
            out.append(plc.receive(x[i * frame : (i + 1) * frame]))
        assert out[-1].dtype == np.int16 and out[-1].shape == (frame,)
    return np.concatenate(out), pitches


@pytest.mark.parametrize("rate", [8000, 16000])
def test_corpus_same_samples_and_pitches(native: ModuleType, rate: int) -> None:
    total = 0
    for name, x in signals(rate).items():
        for seed, frame_ms, p_loss in ((1, 10, 0.1), (2, 20, 0.3), (3, 30, 0.5), (4, 5, 0.2)):
            frame = rate * frame_ms // 1000
            rng = np.random.default_rng(seed)
            # Bursty losses: a 2-state chain (bursts up to and past 60 ms of silence).
            lost = np.zeros(len(x) // frame, bool)
            state = False
            for i in range(len(lost)):
                state = rng.random() < (0.7 if state else p_loss)
                lost[i] = state
            a, pa = run(make(native, rate), x, frame, lost)
            b, pb = run(make(None, rate), x, frame, lost)
            assert np.array_equal(a, b), (name, seed, np.flatnonzero(a != b)[:5])
            assert pa == pb, (name, seed)
            total += int(lost.sum())
    assert total > 1000  # many losses really concealed


def test_periodic_signal_ties_resolve_alike(native: ModuleType) -> None:
    # Exactly periodic with 40 samples: the scores of lags 40, 80 and 120 are equal bit for
    # bit (same windows), and the Appendix keeps the last lag searched ("if (score >= best)"),
    # that is the shortest period, on both paths.
    x = signals(8000)["periodic"]
    for path in (native, None):
        plc = make(path, 8000)
        for i in range(0, 1600, 80):
            plc.receive(x[i : i + 80])
        plc.conceal(80)
        assert plc._pitch == 40


def test_loud_blends_saturate_alike(native: ModuleType) -> None:
    # Full-scale squares: the overlap-adds and the recovery blend clip at int16 limits.
    x = signals(8000)["square"]
    lost = np.array([i % 5 in (2, 3) for i in range(len(x) // 80)])
    a, _ = run(make(native, 8000), x, 80, lost)
    b, _ = run(make(None, 8000), x, 80, lost)
    assert np.array_equal(a, b) and a.min() == -32768 and a.max() == 32767


OPS = st.lists(st.tuples(st.sampled_from(["recv", "recv", "recv", "lost", "lost", "odd_lost",
                                          "reset", "poke"]),
                         st.integers(0, 700)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(rate=st.sampled_from([8000, 16000]),
       source=st.sampled_from(["speech1", "speech2", "tone125", "chord", "noise", "quiet"]),
       ops=OPS, start=st.integers(0, 4000))
def test_any_sequence_same_samples(native: ModuleType, rate: int, source: str,
                                   ops: list[tuple[str, int]], start: int) -> None:
    x = SIGNALS[rate][source]
    paths = [make(native, rate), make(None, rate)]
    pos = start
    for kind, n in ops:
        outs = []
        for plc in paths:
            if kind == "recv":
                outs.append(plc.receive(x[pos : pos + n]))
            elif kind == "lost":
                outs.append(plc.conceal(plc.unit * (1 + n % 4)))
            elif kind == "odd_lost":
                outs.append(plc.conceal(n))
            elif kind == "reset":
                plc.reset()
            else:  # what G711Codec does when it hands back the history it kept as codes
                plc._history[:] = x[pos : pos + plc.hist_len]
        pos = (pos + n) % (len(x) - 1500)
        if outs:
            assert np.array_equal(outs[0], outs[1]), kind
        assert paths[0].erased == paths[1].erased and paths[0]._pitch == paths[1]._pitch
        assert np.array_equal(paths[0]._history, paths[1]._history)


SIGNALS = {rate: signals(rate) for rate in (8000, 16000)}


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.tuples(st.booleans(), st.integers(0, 2**31)), max_size=40))
def test_codec_on_c_path_equals_numpy_concealer(native: ModuleType,
                                                steps: list[tuple[bool, int]]) -> None:
    # G711Codec keeps the C concealer's history as codes and writes it back through the
    # history view at a loss: its output must equal the numpy concealer fed directly.
    _plc.NATIVE = native
    codec = G711Codec("PCMU", frame_ms=20)
    plc = make(None, 8000)
    speech = SIGNALS[8000]["speech1"]
    for lost, seed in steps:
        if lost:
            got, want = codec.conceal(), plc.conceal(160)
        else:
            at = seed % (len(speech) - 160)
            payload = ulaw_encode(speech[at : at + 160])
            got, want = codec.decode(payload), plc.receive(ulaw_decode(payload))
        assert np.array_equal(got, want)


CASES: list[tuple[str, Callable[[WaveformConcealer], object]]] = [
    ("list", lambda p: p.receive([1, 2, -3] * 40)),  # type: ignore[arg-type]
    ("float", lambda p: p.receive(np.linspace(-50000.0, 50000.0, 160))),  # type: ignore[arg-type]
    ("int32", lambda p: p.receive(np.arange(-40000, 40000, 500, dtype=np.int32))),
    ("big-endian", lambda p: p.receive((np.arange(100) * 300).astype(">i2"))),
    ("strided", lambda p: p.receive((np.arange(400, dtype=np.int16) * 50)[::3])),
    ("empty", lambda p: p.receive(np.zeros(0, np.int16))),
    ("short", lambda p: p.receive(np.arange(7, dtype=np.int16))),  # shorter than the delay
    ("long", lambda p: p.receive(np.arange(-3000, 3000, 3, dtype=np.int16))),  # > history
    ("2-D", lambda p: p.receive(np.zeros((2, 80), np.int16))),
    ("scalar", lambda p: p.receive(np.int16(5))),  # type: ignore[arg-type]
    ("conceal 0", lambda p: p.conceal(0)),
    ("conceal -3", lambda p: p.conceal(-3)),
    ("conceal np.int64", lambda p: p.conceal(np.int64(95))),  # type: ignore[arg-type]
    ("conceal float", lambda p: p.conceal(2.5)),  # type: ignore[arg-type]
    ("conceal str", lambda p: p.conceal("80")),  # type: ignore[arg-type]
    ("conceal long", lambda p: p.conceal(1234)),
]


@pytest.mark.parametrize("rate", [8000, 16000])
def test_inputs_off_the_fast_path_behave_alike(native: ModuleType, rate: int) -> None:
    # Each case after a loss (so that a received frame is blended) and in a fresh stream.
    speech = SIGNALS[rate]["speech1"]
    for name, case in CASES:
        for primed in (False, True):
            results: list[tuple[type[Exception] | None, np.ndarray | None]] = []
            for path in (native, None):
                plc = make(path, rate)
                if primed:
                    for i in range(0, 8 * plc.unit, plc.unit):
                        plc.receive(speech[i : i + plc.unit])
                    plc.conceal(plc.unit)
                try:
                    out = case(plc)
                except Exception as exc:  # noqa: BLE001 - the same type on both paths
                    results.append((type(exc), None))
                else:
                    assert isinstance(out, np.ndarray) and out.dtype == np.int16
                    nxt = plc.conceal(plc.unit)  # the state after the case, too
                    results.append((None, np.concatenate([out, nxt])))
            (ea, oa), (eb, ob) = results
            assert ea == eb, (name, ea, eb)
            if oa is None or ob is None:
                assert oa is None and ob is None, name
            else:
                assert np.array_equal(oa, ob), name
    errors = {name: type(exc) for name, case in CASES
              for exc in [_error(case, make(native, rate))] if exc is not None}
    assert errors == {"2-D": ValueError, "scalar": ValueError, "conceal float": TypeError,
                      "conceal str": TypeError}


def _error(case: Callable[[WaveformConcealer], object], plc: WaveformConcealer) -> Exception | None:
    try:
        case(plc)
    except Exception as exc:  # noqa: BLE001
        return exc
    return None


def test_c_type_checks_its_arguments(native: ModuleType) -> None:
    with pytest.raises(ValueError):
        native.Concealer(0)
    with pytest.raises(ValueError):
        native.Concealer(native.MAX_K + 1)
    c = native.Concealer(1)
    for bad in (b"\0" * 160, np.zeros(80, np.float64), np.zeros((2, 80), np.int16),
                np.zeros(160, np.int16)[::2], np.zeros(80, ">i2")):
        with pytest.raises(TypeError):
            c.receive(bad)
    with pytest.raises(TypeError):
        c.conceal(1.5)
    assert c.conceal(-1).shape == (0,)
    # Above MAX_K (8.2 MHz) the concealer stays on numpy rather than failing.
    _plc.NATIVE = native
    assert WaveformConcealer(8000 * (native.MAX_K + 1))._c is None


def test_history_view_outlives_its_concealer(native: ModuleType) -> None:
    plc = make(native, 8000)
    plc.receive(np.arange(400, dtype=np.int16))
    view = plc._history
    assert view.flags.writeable and view.shape == (plc.hist_len,)
    del plc
    gc.collect()
    assert view[-1] == 399  # the buffer lives as long as a view of it


def test_native_path_unless_rvoip_pure_is_set(native: ModuleType) -> None:
    code = ("from rvoip_sansio.codecs import _plc, WaveformConcealer;"
            "print(_plc.NATIVE is None, WaveformConcealer(8000)._c is None)")
    assert probe(code, RVOIP_PURE="1") == "True True"
    assert probe(code, RVOIP_PLC_PURE="1") == "True True"  # this accelerator alone
    assert probe(code) == probe(code, RVOIP_PURE="0") == "False False"
