"""Vendor stand-in fixtures for the integration tests."""

from tests.standins.fixtures import *  # noqa: F403
