"""Fixtures of the conformance tests live in cf_fixtures (a unique module name: tests import its helpers)."""

from cf_fixtures import *  # noqa: F403
from cf_fixtures import _preload, pytest_configure  # noqa: F401
