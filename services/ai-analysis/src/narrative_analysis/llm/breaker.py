"""A circuit breaker for the OpenAI API.

After `failure_threshold` consecutive failures the circuit opens and calls are
refused at once for `reset_seconds`. Then it half-opens: one trial call goes
through, and its outcome closes the circuit again or reopens it for another
cool-down.
"""

import time
from collections.abc import Callable
from enum import StrEnum

import structlog

log = structlog.stdlib.get_logger(__name__)


class CircuitState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


class CircuitOpenError(Exception):
    """Raised instead of calling a dependency whose circuit is open."""

    def __init__(self, retry_in_seconds: float) -> None:
        super().__init__(
            f"the OpenAI circuit is open after repeated failures; the next trial "
            f"request is allowed in {retry_in_seconds:.0f} s"
        )
        self.retry_in_seconds = retry_in_seconds


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        reset_seconds: float,
        on_change: Callable[[CircuitState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._on_change = on_change
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self._state = CircuitState.CLOSED
        self._set(CircuitState.CLOSED)

    @property
    def state(self) -> CircuitState:
        """Return the state, moving from open to half-open once the cool-down ends."""
        if self._state is CircuitState.OPEN and self._cooled_down():
            self._set(CircuitState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may go through now."""
        state = self.state
        if state is CircuitState.OPEN:
            remaining = self.reset_seconds - (self._clock() - self._opened_at)
            raise CircuitOpenError(max(remaining, 0.0))
        if state is CircuitState.HALF_OPEN:
            if self._trial_running:
                raise CircuitOpenError(0.0)
            self._trial_running = True

    def record_success(self) -> None:
        self._failures = 0
        self._trial_running = False
        if self._state is not CircuitState.CLOSED:
            log.info("openai.circuit.closed")
            self._set(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        was_trial = self._trial_running
        self._trial_running = False
        if was_trial or self._failures >= self.failure_threshold:
            if self._state is not CircuitState.OPEN or was_trial:
                log.warning(
                    "openai.circuit.opened",
                    consecutive_failures=self._failures,
                    reset_seconds=self.reset_seconds,
                )
            self._opened_at = self._clock()
            self._set(CircuitState.OPEN)

    def abandon_call(self) -> None:
        """Forget a call that ended without an outcome, such as a cancelled one."""
        self._trial_running = False

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_seconds

    def _set(self, state: CircuitState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(state)
