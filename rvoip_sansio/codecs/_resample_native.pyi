"""Types of the optional C accelerator (rvoip_sansio/codecs/_resample_native.c)."""

import numpy as np
import numpy.typing as npt

ABI: int

def resample(
    hist: npt.NDArray[np.float64], x: npt.NDArray[np.int16], coef: npt.NDArray[np.float64],
    r: int, up: int, down: int, count: int, /,
) -> npt.NDArray[np.int16] | None: ...
