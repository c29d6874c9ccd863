"""TCP listeners for pod "containers": a socket server on a thread that really stops when asked.

SO_REUSEPORT lets a svclb forwarder hold 0.0.0.0:443 while a pod holds <podIP>:443 on the same node,
as hostPort DNAT and a pod's own network namespace allow with real containers; the kernel hands a
connection to the most specific listener.

Example:
    server = listen("10.42.1.2", 443, Handler); server.shutdown()
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def listen(host: str, port: int, handler: type[socketserver.BaseRequestHandler],
           tls: ssl.SSLContext | None = None) -> Server:
    """Bind now (errors surface to the caller) and serve on a daemon thread, over TLS when given."""
    server = Server((host, port), handler)
    if tls is not None:
        # The handshake happens in the connection's own thread, not in the accept loop.
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, name=f"listen-{host}:{port}", daemon=True).start()
    return server
