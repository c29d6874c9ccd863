"""The watcher's timer elapses on its interval: systemd's default AccuracySec is 1min
(systemd.timer(5)), which made a 30 s interval run once a minute on the lab."""

from __future__ import annotations

from tasks import render


def test_the_watcher_timer_asks_for_one_second_accuracy() -> None:
    timer = render("k3s-node-watcher.timer.j2", service="k3s-node-watcher.service", on_boot_sec="30s", interval="30s")
    lines = [line for line in timer.splitlines() if line and not line.startswith("#")]
    assert lines[lines.index("[Timer]") + 1:lines.index("[Install]")] == [
        "OnBootSec=30s", "OnUnitActiveSec=30s", "AccuracySec=1s", "Unit=k3s-node-watcher.service"]
