"""Build configuration beyond pyproject.toml: only the optional C accelerators.

Each is ``optional=True``: without a C compiler or the Python headers its build fails with a
warning and the package installs anyway; the module that loads it then uses its pure path,
which gives identical results (``RVOIP_PURE=1`` forces the pure paths). Every accelerator's
shared object is named ``_*_native`` so that ``scripts/setup`` can remove stale builds.
"""

from setuptools import Extension, setup

try:
    import numpy
except ImportError:  # only without build isolation and without numpy: pure paths
    NUMPY_INCLUDE: list[str] | None = None
else:
    NUMPY_INCLUDE = [numpy.get_include()]


def native(name: str, source: str, uses_numpy: bool = False,
           depends: tuple[str, ...] = ()) -> list[Extension]:
    """One optional accelerator (none when it needs numpy's headers and they are absent);
    ``depends``: headers it includes, so that a change to one rebuilds it."""
    if uses_numpy and NUMPY_INCLUDE is None:
        return []
    return [Extension(name, [source], include_dirs=NUMPY_INCLUDE or [], depends=list(depends),
                      optional=True)]


ext_modules = [
    *native("rvoip_sansio.codecs._g711_native", "rvoip_sansio/codecs/_g711_native.c", uses_numpy=True),
    *native("rvoip_sansio.codecs._resample_native", "rvoip_sansio/codecs/_resample_native.c", uses_numpy=True,
           depends=("rvoip_sansio/codecs/_exact_dot.h",)),
    *native("rvoip_sansio.codecs._plc_native", "rvoip_sansio/codecs/_plc_native.c", uses_numpy=True,
           depends=("rvoip_sansio/codecs/_exact_dot.h",)),
    *native("rvoip_sansio.sip._sip_native", "rvoip_sansio/sip/_sip_native.c"),
    *native("rvoip_sansio.srtp._srtp_native", "rvoip_sansio/srtp/_srtp_native.c",
           depends=("rvoip_sansio/srtp/_srtp_crypto.h", "rvoip_sansio/srtp/_srtp_test_entries.h")),
]

setup(ext_modules=ext_modules)
