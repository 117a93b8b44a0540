"""A local stand-in for SendGrid's API: answers POST /v3/mail/send with 202, after a delay.

It runs on a thread of the benchmark process; the official client reaches it through
LEADFORM_SENDGRID_HOST=http://127.0.0.1:<port>, so the real sending code path is measured.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _MailSendHandler(BaseHTTPRequestHandler):
    """Accept every mail/send after the server's delay; 404 anything else."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the name http.server dispatches to
        """Read the message, wait, then answer like SendGrid does on success."""
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/v3/mail/send":
            self._answer(404)
            return
        time.sleep(self.server.delay)
        with self.server.lock:
            self.server.accepted += 1
        self._answer(202)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        """Stay quiet: one line per email would drown the benchmark's output."""


class SendGridStandIn:
    """A threaded HTTP server faking /v3/mail/send; use as a context manager."""

    def __init__(self, delay: float = 0.0):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _MailSendHandler)
        self._server.daemon_threads = True
        self._server.delay = delay
        self._server.accepted = 0
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to give LEADFORM_SENDGRID_HOST."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def accepted(self) -> int:
        """How many emails the stand-in has accepted so far."""
        return self._server.accepted

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
