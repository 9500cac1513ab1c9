"""Build configuration beyond pyproject.toml: only the optional G.711 C accelerator.

``optional=True``: without a C compiler or the Python headers the build of the extension
fails with a warning and the package installs anyway; rvoip_sansio.codecs then uses its pure
numpy path, which gives identical results (docs/codecs.md, "Speed").
"""

from setuptools import Extension, setup

try:
    import numpy
except ImportError:  # only without build isolation and without numpy: pure path
    ext_modules = []
else:
    ext_modules = [
        Extension(
            "rvoip_sansio.codecs._g711_native",
            ["rvoip_sansio/codecs/_g711_native.c"],
            include_dirs=[numpy.get_include()],
            optional=True,
        )
    ]

setup(ext_modules=ext_modules)
