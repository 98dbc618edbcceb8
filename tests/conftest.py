"""Hypothesis profiles for the fuzz suite (tests/fuzz).

* ``ci`` (default): seeded (derandomised) and bounded, so the fuzz suite stays within ~2 minutes.
* ``long``: ``python -m pytest tests/fuzz --hypothesis-profile=long`` for the note's counts.
"""
from hypothesis import settings

settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None, print_blob=True)
settings.register_profile("long", max_examples=300, deadline=None, print_blob=True)
settings.load_profile("ci")
