"""The one failure table every helpdesk backend is run through.

A backend test calls ``check_failure(standin, attempt, case)``: the case's fault is queued on the
stand-in, ``attempt()`` performs one delivery through the real SDK, and the error it raises must be
of the expected class (``retry_after`` too, where the vendor sent one the SDK lets us read).
Usage::

    @pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
    def test_failure_table(zendesk_standin, destination, case):
        check_failure(zendesk_standin, lambda: destination.deliver(delivery()), case)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from integrations.base import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from tests.standins.faults import http_date


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Any], None]
    expected: type[DeliveryError]
    retry_after: bool = False  # the error must carry a retry_after


FAILURE_TABLE = [
    Case("400", lambda s: s.fail_next(400), PermanentDeliveryError),
    Case("401", lambda s: s.fail_next(401), PermanentDeliveryError),
    Case("403", lambda s: s.fail_next(403), PermanentDeliveryError),
    Case("404", lambda s: s.fail_next(404), PermanentDeliveryError),
    Case("409", lambda s: s.fail_next(409), PermanentDeliveryError),
    Case("422", lambda s: s.fail_next(422), PermanentDeliveryError),
    Case(
        "429-retry-after-seconds",
        lambda s: s.fail_next(429, retry_after="7", times=10),
        TransientDeliveryError,
    ),
    Case(
        "429-retry-after-date",
        lambda s: s.fail_next(429, retry_after=http_date(30), times=10),
        TransientDeliveryError,
    ),
    Case("429-no-retry-after", lambda s: s.fail_next(429, times=10), TransientDeliveryError),
    Case("500", lambda s: s.fail_next(500, times=10), TransientDeliveryError),
    Case("503", lambda s: s.fail_next(503, times=10), TransientDeliveryError),
    Case("timeout", lambda s: s.delay_next(3.0, times=10), TransientDeliveryError),
    Case("connection-dropped", lambda s: s.drop_next(times=10), TransientDeliveryError),
]


def check_failure(standin: Any, attempt: Callable[[], Any], case: Case) -> DeliveryError:
    standin.clear_faults()
    case.setup(standin)
    with pytest.raises(DeliveryError) as info:
        attempt()
    assert isinstance(info.value, case.expected), (case.id, type(info.value), info.value)
    standin.clear_faults()
    return info.value


def connection_refused_case(attempt: Callable[[], Any]) -> DeliveryError:
    """Run ``attempt`` against a port nothing listens on: must be transient."""
    with pytest.raises(TransientDeliveryError) as info:
        attempt()
    return info.value
