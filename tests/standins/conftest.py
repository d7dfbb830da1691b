"""Makes the stand-in fixtures available to the tests in this folder."""

from .fixtures import *  # noqa: F403
