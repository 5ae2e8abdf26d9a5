"""Fuzzing spaces: every generated space (from data or the API) is refused with a SpaceError, or builds and works.

A space that builds must sample, encode into the unit cube, decode, validate its own samples
and default, and round-trip through to_dict; nothing may raise anything but a SpaceError. The
long version (3,000 spaces) is ``python -m benchmarks.fuzz``.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from benchmarks.fuzz import check_space, space_builders, time_limit
from metaml.space import Space


@seed(20240613)
@settings(max_examples=400, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])  # fmt: skip
@given(space_builders(), st.integers(0, 2**32 - 1))
def test_a_generated_space_is_refused_with_a_space_error_or_works(build: Callable[[], Space], rng_seed: int) -> None:
    with time_limit(10.0):
        assert check_space(build, rng_seed) in ("space", "refused")
