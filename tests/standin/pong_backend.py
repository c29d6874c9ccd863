"""A pod's HTTP server for the stand-in's Traefik tests: answers every GET with `pong`, `/slow` after
SLOW_SECONDS (a request still in flight when the pod is told to stop).

Example:
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pong)
"""

from __future__ import annotations

import http.server
import time
from typing import Any

SLOW_SECONDS = 1.5


class Pong(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        self.send_response(200)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"pong")

    def log_message(self, *args: Any) -> None:
        return
