"""Hypothesis profiles: `dev` (quick, the default), `ci` (Hypothesis's own profile, loaded
automatically when CI is set: derandomized, no database) and `nightly` (thorough).
Choose one with HYPOTHESIS_PROFILE=nightly."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("nightly", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])

if "HYPOTHESIS_PROFILE" in os.environ:
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif not os.environ.get("CI"):
    settings.load_profile("dev")
