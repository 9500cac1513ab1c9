"""Every SRTP test runs on both paths: the optional C accelerator (``_srtp_native``: the
per-packet AES-CM + HMAC-SHA1 context where AES-NI exists, AES-GCM where PCLMULQDQ exists
too, and the XOR) and pure Python."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rvoip_sansio.srtp import _transform
from tests.conftest import IN_CI

NATIVE_XOR = _transform.load_native()
NATIVE_CM = _transform.load_cm_context()
NATIVE_GCM = _transform.load_gcm_support()


def use_path(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch the SRTP accelerator ("native") or pure Python for the sessions a test creates
    (sessions read it when made). Without the build: a skip locally, a failure in CI."""
    if path == "native":
        if NATIVE_XOR is None:
            if IN_CI:
                pytest.fail("the C accelerator _srtp_native is not built (or stale); CI must build it")
            pytest.skip("the C accelerator _srtp_native is not built")
        monkeypatch.setattr(_transform, "XOR_TAIL", NATIVE_XOR)
        monkeypatch.setattr(_transform, "CM_CONTEXT", NATIVE_CM)
        monkeypatch.setattr(_transform, "CM_GCM", NATIVE_GCM)
    else:
        monkeypatch.setattr(_transform, "XOR_TAIL", None)
        monkeypatch.setattr(_transform, "CM_CONTEXT", None)
        monkeypatch.setattr(_transform, "CM_GCM", False)


@pytest.fixture(autouse=True, params=["native", "pure"])
def srtp_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test on both paths. Modules whose tests pick their paths themselves, or test the
    C module directly, override this fixture (``use_path("native", ...)``)."""
    use_path(request.param, monkeypatch)
    yield request.param
