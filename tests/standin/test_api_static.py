"""k3s's `/static/` files on the API port: served from `<data-dir>/server/static/` without
credentials (as k3s pkg/server/router.go), Go FileServer answers for missing files and directories."""

from __future__ import annotations

import gzip
import ssl
import urllib.error
import urllib.request

import pytest

CHART = "static-test-27.0.201+up27.0.2.tgz"


@pytest.fixture(scope="module")
def chart(k3s_server) -> bytes:
    charts = k3s_server.data_dir / "server" / "static" / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(b"Chart.yaml")
    (charts / CHART).write_bytes(data)
    return data


def fetch(k3s_server, path: str) -> tuple[int, bytes, str]:
    """GET over TLS verified against the server CA, with no credentials."""
    context = ssl.create_default_context(cafile=k3s_server.ca_file)
    try:
        with urllib.request.urlopen(f"{k3s_server.url}{path}", context=context, timeout=10) as answer:
            return answer.status, answer.read(), answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def test_chart_is_downloaded_without_credentials(k3s_server, chart):
    assert fetch(k3s_server, f"/static/charts/{CHART}") == (200, chart, "application/x-gzip")


def test_percent_encoded_name_is_decoded(k3s_server, chart):
    assert fetch(k3s_server, "/static/charts/static-test-27.0.201%2Bup27.0.2.tgz")[:2] == (200, chart)


def test_missing_file_answers_go_file_server_404(k3s_server, chart):
    assert fetch(k3s_server, "/static/charts/absent.tgz")[:2] == (404, b"404 page not found\n")


def test_charts_directory_lists_its_files(k3s_server, chart):
    code, body, content_type = fetch(k3s_server, "/static/charts/")
    assert (code, content_type) == (200, "text/html; charset=utf-8")
    assert f'<a href="{CHART}">{CHART}</a>'.encode() in body


def test_path_outside_the_static_directory_is_not_served(k3s_server, chart):
    assert fetch(k3s_server, "/static/../server/token")[0] == 404


def test_api_paths_still_need_credentials(k3s_server, chart):
    assert fetch(k3s_server, "/api/v1/namespaces")[0] == 401
