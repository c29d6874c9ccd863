"""put_file/get_file check by sha256 what ``pct push``/``pct pull`` delivered (both exit 0 when the
copy fails) and fail with one line naming the host and the path. The node is this machine and a
fake pct's "container" is this machine too, so every command really runs, in a tmp directory."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path

import pytest
from pyinfra.connectors.util import CommandOutput, OutputLine

from connectors.pct_transfer import digest_command, install_command, sha256_of
from pct_fixtures import fake_pct, pct_hosts

NAME = "@pct/local/121"
PREFIX = f"host {NAME} (vmid 121 on node local): "


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for variable in ("PCT_PUSH_FAILS", "PCT_PUSH_CORRUPTS", "PCT_PULL_FAILS"):
        monkeypatch.delenv(variable, raising=False)
    [pct_host] = pct_hosts((NAME, {"pct_command": str(fake_pct(tmp_path))}))
    return pct_host


def sh(command) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", command.get_raw_value()], capture_output=True, text=True)


def test_upload_arrives_byte_exact(host, tmp_path):
    payload = bytes(range(256)) * 64
    host.put_file(io.BytesIO(payload), str(tmp_path / "dest"), remote_temp_filename=str(tmp_path / "temp"))
    assert ((tmp_path / "dest").read_bytes(), (tmp_path / "temp").exists()) == (payload, False)


def test_failed_push_is_an_error_naming_host_and_path(host, tmp_path, monkeypatch):
    monkeypatch.setenv("PCT_PUSH_FAILS", "1")
    dest, temp = tmp_path / "dest", tmp_path / "temp"
    with pytest.raises(OSError) as error:
        host.put_file(io.BytesIO(b"new"), str(dest), remote_temp_filename=str(temp))
    assert str(error.value) == f"{PREFIX}cannot write {dest}: failed to create file: {temp}: Read-only file system"


def test_failed_push_leaves_the_destination_as_it_was(host, tmp_path, monkeypatch):
    monkeypatch.setenv("PCT_PUSH_FAILS", "1")
    (tmp_path / "dest").write_text("good")
    (tmp_path / "temp").write_text("stale upload of an earlier run")
    with pytest.raises(OSError):
        host.put_file(io.BytesIO(b"new"), str(tmp_path / "dest"), remote_temp_filename=str(tmp_path / "temp"))
    assert (tmp_path / "dest").read_text() == "good"


def test_altered_push_is_an_error_naming_host_and_path(host, tmp_path, monkeypatch):
    monkeypatch.setenv("PCT_PUSH_CORRUPTS", "1")
    dest, temp = tmp_path / "dest", tmp_path / "temp"
    with pytest.raises(OSError) as error:
        host.put_file(io.BytesIO(b"new"), str(dest), remote_temp_filename=str(temp))
    assert str(error.value) == f"{PREFIX}cannot write {dest}: pct push did not deliver {temp} intact"


def test_download_arrives_byte_exact(host, tmp_path):
    payload = bytes(range(256)) * 64
    (tmp_path / "source").write_bytes(payload)
    fetched = io.BytesIO()
    host.get_file(str(tmp_path / "source"), fetched)
    assert fetched.getvalue() == payload


def test_download_of_a_missing_file_is_an_error_naming_host_and_path(host, tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(OSError) as error:
        host.get_file(str(missing), io.BytesIO())
    assert str(error.value) == f"{PREFIX}cannot read {missing}: sha256sum: {missing}: No such file or directory"


def test_failed_pull_is_an_error_naming_host_and_path(host, tmp_path, monkeypatch):
    monkeypatch.setenv("PCT_PULL_FAILS", "1")
    source = tmp_path / "source"
    source.write_text("content")
    with pytest.raises(OSError) as error:
        host.get_file(str(source), io.BytesIO())
    assert str(error.value) == f"{PREFIX}cannot read {source}: failed to open {source}: No such file or directory"


def test_failed_pull_leaves_the_local_file_as_it_was(host, tmp_path, monkeypatch):
    monkeypatch.setenv("PCT_PULL_FAILS", "1")
    (tmp_path / "source").write_text("content")
    (tmp_path / "local").write_text("good")
    with pytest.raises(OSError):
        host.get_file(str(tmp_path / "source"), str(tmp_path / "local"))
    assert (tmp_path / "local").read_text() == "good"


def test_install_command_copies_a_matching_upload_and_removes_it(tmp_path):
    (tmp_path / "temp").write_bytes(b"payload")
    result = sh(install_command(str(tmp_path / "temp"), str(tmp_path / "dest"), hashlib.sha256(b"payload").hexdigest()))
    assert (result.returncode, (tmp_path / "dest").read_bytes(), (tmp_path / "temp").exists()) == (0, b"payload", False)


def test_install_command_keeps_the_mode_of_an_existing_destination(tmp_path):
    (tmp_path / "temp").write_bytes(b"payload")
    (tmp_path / "dest").write_bytes(b"old")
    (tmp_path / "dest").chmod(0o640)
    sh(install_command(str(tmp_path / "temp"), str(tmp_path / "dest"), hashlib.sha256(b"payload").hexdigest()))
    assert (tmp_path / "dest").stat().st_mode & 0o777 == 0o640


def test_install_command_refuses_an_upload_with_another_digest(tmp_path):
    (tmp_path / "temp").write_bytes(b"altered")
    (tmp_path / "dest").write_bytes(b"good")
    result = sh(install_command(str(tmp_path / "temp"), str(tmp_path / "dest"), hashlib.sha256(b"payload").hexdigest()))
    assert (result.returncode, (tmp_path / "dest").read_bytes(), (tmp_path / "temp").exists()) == (1, b"good", False)


def test_install_command_quotes_awkward_paths(tmp_path):
    temp, dest = tmp_path / "it's a $temp", tmp_path / "dest `x` \"y\""
    temp.write_bytes(b"payload")
    sh(install_command(str(temp), str(dest), hashlib.sha256(b"payload").hexdigest()))
    assert dest.read_bytes() == b"payload"


def test_digest_command_prints_the_files_sha256(tmp_path):
    (tmp_path / "it's").write_bytes(b"payload")
    assert sh(digest_command(str(tmp_path / "it's"))).stdout.split()[0] == hashlib.sha256(b"payload").hexdigest()


def test_digest_of_a_name_sha256sum_escaped_is_read():
    digest = hashlib.sha256(b"payload").hexdigest()
    output = CommandOutput([OutputLine("stdout", f"\\{digest}  /tmp/new\\nline")])
    assert sha256_of(output) == digest


def test_no_digest_is_read_from_an_error():
    assert sha256_of(CommandOutput([OutputLine("stdout", "sha256sum: /x: No such file or directory")])) is None
