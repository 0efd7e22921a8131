"""A real HTTP server on 127.0.0.1 for the download tests: it serves bytes, cuts connections, redirects.

The course's download code runs unchanged against it (urllib, TF Hub's resolver): only the URLs point
here. Every request is logged, so a test can prove that a second run made none. The server stops when
the test ends, and by itself after `LIFETIME_S` whatever happens to the test process.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIFETIME_S = 600


class LocalServer:
    """`add(path, payload)` then `url(path)`; modes: "ok", "cut" (half the bytes, then close), "redirect", "404",
    "login" (a web page, as a Wi-Fi login portal answers every address)."""

    def __init__(self):
        self.routes: dict[str, tuple[str, bytes | str]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (the http.server API)
                path = self.path.split("?")[0]
                server.requests.append(path)
                mode, payload = server.routes.get(path, ("404", b""))
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", server.url(payload))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode == "404":
                    self.send_error(404)
                    return
                if mode == "login":
                    page = b"<!DOCTYPE html><html><body>Please log in to use the Wi-Fi</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(payload)))  # announced in full, also when cut
                self.end_headers()
                self.wfile.write(payload if mode == "ok" else payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True  # a cut transfer: the server closes before Content-Length

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.timer = threading.Timer(LIFETIME_S, self.stop)  # bounded even if a test never stops it
        self.timer.daemon = True

    def __enter__(self) -> LocalServer:
        self.thread.start()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.timer.cancel()
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, path: str, payload: bytes | str, mode: str = "ok") -> str:
        self.routes[path] = (mode, payload)
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def count(self, path: str) -> int:
        return self.requests.count(path)


def closed_port_url(path: str = "/file") -> str:
    """A 127.0.0.1 URL where nothing listens: connecting fails at once (like a machine without network)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
