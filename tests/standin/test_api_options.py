"""How `k3s server` / `k3s agent` merge config file, environment and flags (pure logic)."""

from __future__ import annotations

import pytest

from k3s_standin.options import OptionsError, parse


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("node-ip: 10.213.0.111\nnode-label: [a=1]\ndisable: servicelb,traefik\n"
                    "kube-controller-manager-arg: [node-monitor-grace-period=20s]\n")
    return str(path)


def test_config_file_keys_become_options(config):
    options = parse("agent", ["--config", config], environ={})
    assert (options.node_ip, options.node_labels, options.disable) == (
        "10.213.0.111", ("a=1",), ("servicelb", "traefik"))


def test_flags_override_the_config_file(config):
    assert parse("agent", ["-c", config, "--node-ip=10.0.0.9"], environ={}).node_ip == "10.0.0.9"


def test_component_args_become_a_mapping(config):
    options = parse("server", ["-c", config], environ={})
    assert options.kube_controller_manager_args == {"node-monitor-grace-period": "20s"}


def test_environment_supplies_token_and_server(tmp_path):
    options = parse("agent", ["-c", str(tmp_path / "none.yaml")],
                    environ={"K3S_TOKEN": "secret", "K3S_URL": "https://10.213.0.101:6443"})
    assert (options.token, options.server) == ("secret", "https://10.213.0.101:6443")


def test_config_drop_ins_append_with_a_plus_suffix(config, tmp_path):
    (tmp_path / "config.yaml.d").mkdir()
    (tmp_path / "config.yaml.d" / "10-extra.yaml").write_text("node-label+: [b=2]\n")
    assert parse("agent", ["-c", config], environ={}).node_labels == ("a=1", "b=2")


def test_unknown_config_key_is_ignored_with_a_warning(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("no-such-flag: 1\n")
    parse("server", ["-c", str(path)], environ={})
    assert "Unknown flag --no-such-flag" in capsys.readouterr().err


def test_unknown_flag_is_an_error(tmp_path):
    with pytest.raises(OptionsError, match="flag provided but not defined: --bogus"):
        parse("server", ["-c", str(tmp_path / "none.yaml"), "--bogus"], environ={})


def test_defaults_follow_k3s(tmp_path):
    options = parse("server", ["-c", str(tmp_path / "none.yaml")], environ={})
    assert (options.https_listen_port, options.write_kubeconfig_mode, options.service_cidr, options.data_dir) == (
        6443, 0o600, "10.43.0.0/16", "/var/lib/rancher/k3s")
