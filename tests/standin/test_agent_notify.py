"""`k3s agent` tells systemd READY=1 once its Node is registered, as its Type=notify upstream unit expects."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


from conftest import Server, standin_environment


def agent_command(server: Server, directory: Path, node_name: str) -> list[str]:
    (directory / "token").write_text(server.node_token)
    return [sys.executable, "-m", "k3s_standin", "agent", "--config", str(directory / "none.yaml"),
            "--server", server.url, "--token-file", str(directory / "token"),
            "--data-dir", str(directory / "data"), "--node-ip", "127.0.0.1", "--node-name", node_name,
            "--disable-kube-proxy", "--flannel-backend=none"]


def test_agent_notifies_systemd_once_its_node_is_registered(k3s_server: Server, core_v1, tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(tmp_path / "notify"))
        listener.settimeout(30)
        with open(tmp_path / "agent.log", "ab") as output:
            agent = subprocess.Popen(agent_command(k3s_server, tmp_path, "notifying-agent"), stdout=output,
                                     stderr=subprocess.STDOUT,
                                     env=standin_environment(tmp_path, NOTIFY_SOCKET=str(tmp_path / "notify")))
        try:
            message = listener.recv(64)
            registered = core_v1.read_node("notifying-agent").metadata.name
        finally:
            agent.terminate()
            agent.wait(timeout=10)
            core_v1.delete_node("notifying-agent")
    assert (message, registered) == (b"READY=1", "notifying-agent")
