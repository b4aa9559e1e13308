"""The evidence base, the likelihood and the posterior (issue 10).

* :mod:`~ketasim.evidence.schema`, :mod:`~ketasim.evidence.loader`: the arm-level evidence files
  (``ketasim/data/evidence/*.yaml``) and the rules of what enters the likelihood.
"""

from ketasim.evidence.loader import Usage, fitted_observations, load_evidence, read_evidence_file, usage

__all__ = ["Usage", "fitted_observations", "load_evidence", "read_evidence_file", "usage"]
