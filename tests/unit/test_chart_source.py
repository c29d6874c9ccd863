"""Where a chart comes from: a repository, or a local archive served from k3s's static/charts."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tasks.chart_source import ChartSource, chart_source, read_chart
from tasks.settings import InvalidField, fields_of
from tests.unit.chart_archives import add, chart_archive

FIELDS = fields_of("rancher")


def refusal(settings: dict, parent: str = "rancher") -> InvalidField:
    with pytest.raises(InvalidField) as error:
        chart_source(settings, parent, fields_of(parent))
    return error.value


def test_a_repository_chart_is_named_by_its_parent_with_the_default_repo():
    source = chart_source({}, "cert_manager", fields_of("cert_manager"))
    assert (source.name, source.repo, source.version, source.file) == ("cert-manager", "https://charts.jetstack.io",
                                                                       None, None)


def test_repository_spec_names_chart_repo_and_version():
    source = chart_source({"repo": "oci://registry.example.net/charts", "chart_version": "2.10.1"}, "rancher", FIELDS)
    assert (source.spec(), source.static_path) == (
        {"chart": "rancher", "repo": "oci://registry.example.net/charts", "version": "2.10.1"}, None)


def test_without_a_version_the_spec_has_none():
    assert "version" not in chart_source({}, "rancher", FIELDS).spec()


def test_a_local_archive_is_served_from_static_charts(tmp_path):
    path = chart_archive(tmp_path, "rancher", "2.10.1")
    source = chart_source({"chart_file": str(path)}, "rancher", FIELDS)
    assert (source.spec(), source.static_path) == (
        {"chart": "https://%{KUBERNETES_API}%/static/charts/rancher-2.10.1.tgz"},
        "/var/lib/rancher/k3s/server/static/charts/rancher-2.10.1.tgz")


def test_a_local_archive_brings_its_chart_yaml_and_values(tmp_path):
    path = chart_archive(tmp_path, "rancher", "2.10.1", kube_version="< 1.32.0-0", app_version="v2.10.1",
                         values={"rancherImage": "rancher/rancher", "replicas": 3})
    source = chart_source({"chart_file": str(path)}, "rancher", FIELDS)
    assert (source.meta["kubeVersion"], source.meta["appVersion"], source.values) == (
        "< 1.32.0-0", "v2.10.1", {"rancherImage": "rancher/rancher", "replicas": 3})


def test_an_archive_of_another_chart_is_refused(tmp_path):
    path = chart_archive(tmp_path, "cert-manager", "v1.16.2")
    error = refusal({"chart_file": str(path)})
    assert (error.field, error.problem) == ("rancher.chart_file",
                                            "cert-manager-v1.16.2.tgz is chart 'cert-manager', not 'rancher'")


def test_chart_file_and_chart_version_exclude_each_other(tmp_path):
    path = chart_archive(tmp_path, "rancher", "2.10.1")
    error = refusal({"chart_file": str(path), "chart_version": "2.10.1"})
    assert (error.field, error.problem) == ("rancher.chart_file", "set chart_file or chart_version, not both")


@pytest.mark.parametrize("name", ["absent.tgz", "rancher-2.10.1.tar"])
def test_a_missing_or_misnamed_file_is_refused(tmp_path, name):
    (tmp_path / "rancher-2.10.1.tar").write_bytes(b"")
    assert refusal({"chart_file": str(tmp_path / name)}).problem.startswith("not a chart .tgz file")


def test_a_file_that_is_no_archive_is_refused(tmp_path):
    path = tmp_path / "rancher-2.10.1.tgz"
    path.write_bytes(b"\x1f\x8b chart")
    error = refusal({"chart_file": str(path)})
    assert (error.field, error.problem.startswith("rancher-2.10.1.tgz: not a chart archive")) == \
        ("rancher.chart_file", True)


def archive_of(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            add(archive, name, data)
    return path


def test_an_archive_without_chart_yaml_is_refused(tmp_path):
    path = archive_of(tmp_path / "rancher-2.10.1.tgz", {"rancher/values.yaml": b""})
    assert refusal({"chart_file": str(path)}).problem == "rancher-2.10.1.tgz: no <chart>/Chart.yaml in it"


def test_a_subchart_is_not_taken_for_the_chart(tmp_path):
    path = archive_of(tmp_path / "rancher-2.10.1.tgz", {"rancher/values.yaml": b"",
                                                        "rancher/charts/sub/Chart.yaml": b"name: sub\nversion: 1.0.0\n"})
    with pytest.raises(ValueError, match="no <chart>/Chart.yaml"):
        read_chart(path)


def test_a_chart_yaml_without_version_is_refused(tmp_path):
    path = archive_of(tmp_path / "rancher-2.10.1.tgz", {"rancher/Chart.yaml": b"apiVersion: v2\nname: rancher\n"})
    assert refusal({"chart_file": str(path)}).problem == "rancher-2.10.1.tgz: its Chart.yaml has no name or version"


@pytest.mark.parametrize("version", [2.9, "latest", "2.10", ""])
def test_chart_version_must_be_a_version_string(version):
    assert refusal({"chart_version": version}).field == "rancher.chart_version"


@pytest.mark.parametrize("repo", ["ftp://x", "releases.rancher.com/server-charts/stable", 7])
def test_repo_must_be_a_chart_repository_url(repo):
    assert refusal({"repo": repo}).field == "rancher.repo"


def test_a_source_hides_the_archives_contents_from_its_repr(tmp_path):
    path = chart_archive(tmp_path, "rancher", "2.10.1", values={"bootstrapPassword": "s3cret-s3cret"})
    assert "s3cret" not in repr(chart_source({"chart_file": str(path)}, "rancher", FIELDS))


def test_static_path_is_the_archives_file_name():
    assert ChartSource("rancher", file=Path("/srv/charts/rancher-2.10.1.tgz")).static_path == \
        "/var/lib/rancher/k3s/server/static/charts/rancher-2.10.1.tgz"
