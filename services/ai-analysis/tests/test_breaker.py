import pytest

from narrative_analysis.llm.breaker import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_breaker(states: list | None = None) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    on_change = states.append if states is not None else None
    return CircuitBreaker(3, 10.0, on_change, clock), clock


def test_breaker_opens_after_threshold_failures():
    breaker, _ = make_breaker()
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED

    breaker.before_call()
    breaker.record_failure()

    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_success_resets_failure_count():
    breaker, _ = make_breaker()
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.consecutive_failures == 1


def test_half_open_allows_one_trial():
    breaker, clock = make_breaker()
    for _ in range(3):
        breaker.record_failure()
    clock.now = 10.0

    assert breaker.state is CircuitState.HALF_OPEN
    breaker.before_call()
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_failed_trial_reopens_for_a_new_cooldown():
    breaker, clock = make_breaker()
    for _ in range(3):
        breaker.record_failure()
    clock.now = 10.0
    breaker.before_call()

    breaker.record_failure()

    assert breaker.state is CircuitState.OPEN
    clock.now = 19.0
    assert breaker.state is CircuitState.OPEN
    clock.now = 20.0
    assert breaker.state is CircuitState.HALF_OPEN


def test_successful_trial_closes():
    states: list[CircuitState] = []
    breaker, clock = make_breaker(states)
    for _ in range(3):
        breaker.record_failure()
    clock.now = 10.0
    breaker.before_call()

    breaker.record_success()

    assert breaker.state is CircuitState.CLOSED
    assert states == [
        CircuitState.CLOSED,
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.CLOSED,
    ]


def test_abandoned_trial_frees_the_slot():
    breaker, clock = make_breaker()
    for _ in range(3):
        breaker.record_failure()
    clock.now = 10.0
    breaker.before_call()

    breaker.abandon_call()

    breaker.before_call()
