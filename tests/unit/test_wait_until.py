"""tasks.wait_until: polls until the problem clears, else one line naming what and why."""

from __future__ import annotations

from tasks import wait_until


class Target:
    """Stands in for a pyinfra host: only its one-line log is used."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def log_styled(self, message: str, **_: object) -> None:
        self.lines.append(message)


def test_returns_true_once_the_problem_clears() -> None:
    answers = iter(["still down", "still down", ""])
    target = Target()
    assert wait_until(target, lambda: next(answers), 5, 0, "haproxy: servers not UP") is True
    assert target.lines == []


def test_timeout_logs_what_and_the_last_problem() -> None:
    target = Target()
    assert wait_until(target, lambda: "k3s-worker-1 DOWN", 0, 0, "haproxy: servers not UP") is False
    assert target.lines == ["haproxy: servers not UP after 0s: k3s-worker-1 DOWN"]
