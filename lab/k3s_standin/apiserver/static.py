"""`/static/...`: the files under `<data-dir>/server/static/`, unauthenticated, as k3s serves them on
the API port so HelmCharts can name `https://%{KUBERNETES_API}%/static/charts/<file>.tgz`.

Upstream: k3s-io/k3s pkg/server/router.go (`router.PathPrefix("/static/")` on the outer router,
before the authenticated ones: `http.StripPrefix` + `http.FileServer(http.Dir(<data-dir>/static))`)
and Go's net/http fs.go `FileServer`: "404 page not found" for a missing file, a redirect to the
slash-terminated path for a directory, and an HTML listing of a directory without index.html;
docs.k3s.io "Air-Gap Install" (charts in /var/lib/rancher/k3s/server/static/charts).

Example:
    answer = serve("/var/lib/rancher/k3s/server/static", "/static/charts/traefik-27.0.201+up27.0.2.tgz")
    answer.code, answer.content_type   # 200, "application/x-gzip"
"""

from __future__ import annotations

import dataclasses
import html
import os
import posixpath
import urllib.parse

PREFIX = "/static/"
# Go's mime package built-in table for the types a chart directory may hold; anything else is sniffed
TYPES = {".json": "application/json", ".html": "text/html; charset=utf-8", ".xml": "text/xml; charset=utf-8",
         ".yaml": "application/yaml"}
NOT_FOUND = b"404 page not found\n"


@dataclasses.dataclass(frozen=True)
class Answer:
    code: int
    body: bytes
    content_type: str
    location: str = ""


def serve(static_dir: str, url_path: str) -> Answer:
    """The answer to a GET of `url_path` (which starts with /static/)."""
    relative = posixpath.normpath("/" + url_path[len(PREFIX):]).lstrip("/")
    target = os.path.join(static_dir, relative) if relative not in ("", ".") else static_dir
    if os.path.isdir(target):
        if not url_path.endswith("/"):
            return Answer(301, b"", "text/html; charset=utf-8", posixpath.basename(url_path) + "/")
        index = os.path.join(target, "index.html")
        return _file(index) if os.path.isfile(index) else _listing(target)
    if os.path.isfile(target):
        return _file(target)
    return Answer(404, NOT_FOUND, "text/plain; charset=utf-8")


def _file(path: str) -> Answer:
    with open(path, "rb") as handle:
        data = handle.read()
    return Answer(200, data, TYPES.get(os.path.splitext(path)[1]) or _sniff(data))


def _sniff(data: bytes) -> str:
    """The cases of net/http's DetectContentType that chart files hit."""
    if data.startswith(b"\x1f\x8b\x08"):
        return "application/x-gzip"
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        return "application/octet-stream"
    try:
        data[:512].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def _listing(directory: str) -> Answer:
    lines = ['<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n']
    for name in sorted(os.listdir(directory)):
        shown = name + "/" if os.path.isdir(os.path.join(directory, name)) else name
        # url.URL{Path: name}.String(): Go leaves the path's sub-delimiters (+ among them) unescaped
        lines.append(f'<a href="{urllib.parse.quote(shown, safe="/$&+,:;=@")}">{html.escape(shown)}</a>\n')
    lines.append("</pre>\n")
    return Answer(200, "".join(lines).encode(), "text/html; charset=utf-8")
