"""gunicorn's threaded worker, answering the errors gunicorn raises itself as problem+json.

Requests gunicorn refuses before the app sees them (a request line over 8190 bytes: 414; too many or
too large headers: 431; a malformed request: 400) get gunicorn's HTML page by default, while every
other error of the API is application/problem+json. gunicorn decides the status; we keep its
decision and change only the body: its page is captured instead of sent, and the same status goes
out as a problem.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from recur.http.errors import TYPE_BASE

DETAILS = {
    400: "the request is malformed: check the request line and headers",
    414: "the request line is too long (at most 8190 bytes): send long values in a JSON body",
    431: "too many or too large headers (at most 100 headers of 8190 bytes)",
}


class _CapturingSocket:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.written = b""

    def sendall(self, data: bytes) -> None:
        self.written += data

    def send(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def gettimeout(self) -> float | None:
        return 0.0  # so gunicorn writes straight away, without touching the real socket's mode

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def problem_response(status: int, reason: str) -> bytes:
    body = json.dumps(
        {"type": TYPE_BASE + reason.lower().replace(" ", "-"), "title": reason, "status": status,
         "detail": DETAILS.get(status, reason)}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    return head + body


class ProblemJsonThreadWorker(ThreadWorker):
    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        captured = _CapturingSocket(client)
        super().handle_error(req, captured, addr, exc)
        status_line = captured.written.split(b"\r\n", 1)[0].decode("latin1")
        _, status, reason = (status_line.split(" ", 2) + ["", ""])[:3]
        if not status.isdigit():
            return
        try:
            util.write_nonblock(client, problem_response(int(status), reason or "Error"))
        except OSError:
            self.log.debug("could not send the error response")
