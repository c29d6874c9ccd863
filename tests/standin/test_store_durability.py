"""A write the API acknowledged survives a SIGKILL of the server, as with k3s on kine (sqlite)."""

from __future__ import annotations

from pathlib import Path

import kubernetes

from conftest import free_port, start_server, stop_server


def test_acknowledged_namespace_survives_sigkill(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, port)
    try:
        core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
        core.create_namespace({"metadata": {"name": "acknowledged"}})
        server.process.kill()
        server.process.wait()
        server = start_server(tmp_path, port)
        core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
        kept = core.read_namespace("acknowledged")
    finally:
        stop_server(server)
    assert kept.metadata.name == "acknowledged"


def test_resource_version_keeps_growing_after_sigkill(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, port)
    try:
        core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
        before = int(core.create_namespaced_config_map("default", {"metadata": {"name": "one"}})
                     .metadata.resource_version)
        server.process.kill()
        server.process.wait()
        server = start_server(tmp_path, port)
        core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig)))
        after = int(core.create_namespaced_config_map("default", {"metadata": {"name": "two"}})
                    .metadata.resource_version)
    finally:
        stop_server(server)
    assert after > before
