"""Shared test configuration: Hypothesis profiles and the quick-size switch.

Profiles: ``ci`` (default; few examples, no deadline, derandomized so CI is reproducible) and
``thorough`` (many examples), chosen with ``HYPOTHESIS_PROFILE=thorough``.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=15, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

QUICK = os.environ.get("PROVABLE_MHA_QUICK", "0") == "1" or os.environ.get("CI") == "true"


@pytest.fixture
def quick() -> bool:
    """True under CI or PROVABLE_MHA_QUICK=1: tests pick their small sizes."""
    return QUICK
