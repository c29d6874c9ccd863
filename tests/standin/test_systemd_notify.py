"""The stand-in tells systemd it is ready, as k3s's Type=notify server unit expects."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from k3s_standin.systemd_notify import notify_ready


def test_ready_is_sent_to_notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        notify_ready()
        assert listener.recv(64) == b"READY=1"

