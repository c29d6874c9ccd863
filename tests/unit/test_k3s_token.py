"""The bootstrapped-token comparison: password parts compared by digest, the fact parsed."""

from __future__ import annotations

import hashlib
import subprocess

from facts.k3s_token import BootstrappedTokenDigest
from tasks.k3s_token import token_password


def test_secure_and_short_tokens_compare_by_password():
    assert (token_password("K10abc123::server:s3cret"), token_password("s3cret")) == ("s3cret", "s3cret")


def test_fact_digests_the_password_part_of_the_token_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("K10deadbeef::server:s3cret\n")
    command = BootstrappedTokenDigest().command().replace("/var/lib/rancher/k3s/server/token", str(token_file))
    output = subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout.splitlines()
    assert BootstrappedTokenDigest().process(output) == hashlib.sha256(b"s3cret").hexdigest()


def test_no_token_file_reads_as_not_bootstrapped():
    assert BootstrappedTokenDigest().process(["none"]) is None
