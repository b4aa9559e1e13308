"""Rating-scale conversions from MADRS (provisional linear linking; to be replaced by published tables)."""

from __future__ import annotations

import numpy as np


def from_madrs(madrs: np.ndarray) -> dict[str, np.ndarray]:
    m = np.asarray(madrs, dtype=float)
    return {
        "hdrs17": np.clip(m * 0.75, 0, 52),
        "phq9": np.clip(m * 0.5, 0, 27),
        "qids_sr16": np.clip(m * 0.45, 0, 27),
    }
