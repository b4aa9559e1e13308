"""ketasim: ketamine treatment of depression, simulated from the dose to the rating scale.

Research and decision-support software, not a medical device.
"""

from ketasim._numba_cache import configure as _configure_numba_cache

_configure_numba_cache()

__version__ = "0.1.0"
DISCLAIMER = ("ketasim is research and decision-support software, not a medical device; "
              "its outputs are not medical advice.")
