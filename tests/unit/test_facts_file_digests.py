"""FileDigests: the shell it sends, run here on real files, and its parser."""

import hashlib
import subprocess

from facts.file_digests import FileDigests


def run_fact(paths):
    fact = FileDigests()
    output = subprocess.run(["sh", "-c", fact.command(paths)], capture_output=True, text=True, check=True)
    return fact.process(output.stdout.splitlines())


def test_existing_file_has_mode_and_sha256(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("node-name: k3s-control\n")
    path.chmod(0o600)
    assert run_fact([str(path)]) == {
        str(path): {"mode": "600", "sha256": hashlib.sha256(b"node-name: k3s-control\n").hexdigest()}
    }


def test_missing_file_is_none(tmp_path):
    assert run_fact([str(tmp_path / "absent")]) == {str(tmp_path / "absent"): None}


def test_path_with_spaces_and_quotes_is_read(tmp_path):
    path = tmp_path / "it's a file"
    path.write_text("x")
    assert run_fact([str(path)])[str(path)]["mode"] == oct(path.stat().st_mode & 0o777)[2:]


def test_directory_is_not_a_file(tmp_path):
    assert run_fact([str(tmp_path)]) == {str(tmp_path): None}
