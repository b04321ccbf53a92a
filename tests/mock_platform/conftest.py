"""Fixtures of the mock platform tests live in mp_fixtures (a unique module name: tests import its helpers)."""

from mp_fixtures import *  # noqa: F403
from mp_fixtures import pytest_generate_tests  # noqa: F401
