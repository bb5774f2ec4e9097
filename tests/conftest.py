"""Test-suite settings.

On CI (``CI`` set, as `.ci/run` runs) hypothesis draws a fixed sequence of
examples, so a submission's result does not depend on luck; locally it explores
new examples on every run (and keeps failures in .hypothesis/).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
