"""From ``k3s_version`` alone: the release URLs, the published sha256 picked from the release's
checksum list as install.sh does, and the host-side download, against a release served on loopback."""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import threading

import pytest

from tasks import k3s_binary
from tasks.k3s_binary import _DOWNLOAD, checksum_for, release_urls

CHECKSUMS = (f"{'a' * 64}  k3s-airgap-images-amd64.tar.zst\n{'b' * 64}  k3s\n{'c' * 64}  k3s-arm64\n")


def test_release_urls_quote_the_plus_of_the_tag():
    assert release_urls("v1.31.4+k3s1") == (
        f"{k3s_binary.RELEASES}/v1.31.4%2Bk3s1/k3s", f"{k3s_binary.RELEASES}/v1.31.4%2Bk3s1/sha256sum-amd64.txt")


def test_arm64_asset_has_its_suffix():
    assert release_urls("v1.31.4+k3s1", "arm64")[0].endswith("/k3s-arm64")


@pytest.mark.parametrize(("asset", "digest"), [("k3s", "b" * 64), ("k3s-arm64", "c" * 64), ("k3s-armhf", None)])
def test_checksum_is_the_line_for_exactly_that_asset(asset, digest):
    assert checksum_for(CHECKSUMS, asset) == digest


@pytest.fixture
def release(tmp_path):
    """A release directory served on 127.0.0.1 (loopback only), with a binary and its checksum list."""
    tag = tmp_path / "v1.31.4+k3s1"
    tag.mkdir()
    (tag / "k3s").write_bytes(b"#!/bin/sh\necho k3s version v1.31.4+k3s1\n")
    (tag / "sha256sum-amd64.txt").write_text(f"{hashlib.sha256((tag / 'k3s').read_bytes()).hexdigest()}  k3s\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tag
    server.shutdown()


def test_published_sha256_is_read_from_the_release(release, monkeypatch):
    base, tag = release
    monkeypatch.setattr(k3s_binary, "host", type("Host", (), {"data": {}, "name": "h"})())
    k3s_binary.released_sha256.cache_clear()
    assert k3s_binary.released_sha256("v1.31.4+k3s1", "amd64", base) == \
        hashlib.sha256((tag / "k3s").read_bytes()).hexdigest()


def test_host_side_download_writes_the_binary(release, tmp_path):
    base, tag = release
    target = tmp_path / "staged"
    done = subprocess.run(["python3", "-c", _DOWNLOAD, release_urls("v1.31.4+k3s1", base=base)[0], str(target)],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, target.read_bytes()) == (0, (tag / "k3s").read_bytes())


def test_host_side_download_of_a_missing_release_fails_naming_the_url(release, tmp_path):
    base, _ = release
    url = release_urls("v9.9.9+k3s1", base=base)[0]
    done = subprocess.run(["python3", "-c", _DOWNLOAD, url, str(tmp_path / "staged")],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, f"cannot download {url}" in done.stderr) == (1, True)
