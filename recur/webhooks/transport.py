"""One webhook POST: to the address the policy checked (never resolving the host again), within 15 seconds in all,
following no redirect.

Connecting to `Target.address` while naming `Target.host` keeps what https promises: the Host header, TLS SNI and
the certificate check all use the host name. The 15 s bound is on the whole exchange, not per socket read, so a
receiver that trickles its answer a byte at a time is cut off too. A 3xx is an answer like any non-2xx: a redirect
could point anywhere, including into recur's own network, so none is followed. Only the status line and a little of
the body are read: recur needs the status, not what the receiver says.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from dataclasses import dataclass

from recur.webhooks.address_policy import Target

TIMEOUT_SECONDS = 15.0
RESPONSE_BYTES_READ = 4096


class DeliveryFailedError(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failed. The message is recorded on the delivery."""


@dataclass(frozen=True)
class Answer:
    status: int

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self.address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, headers: dict[str, str], body: bytes, timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST `body` to the target; the receiver's status, or DeliveryFailedError when there was none within `timeout`."""
    kind = _PinnedHTTPSConnection if target.is_https else _PinnedHTTPConnection
    connection = kind(target, timeout)
    expired = threading.Event()

    def cut_off() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    deadline = threading.Timer(timeout, cut_off)
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers={**headers, "content-length": str(len(body))})
        response = connection.getresponse()
        response.read(RESPONSE_BYTES_READ)
        return Answer(response.status)
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set() or isinstance(error, TimeoutError | socket.timeout):
            raise DeliveryFailedError(f"no answer within {timeout:.0f} s") from None
        raise DeliveryFailedError(describe(error)) from None
    finally:
        deadline.cancel()
        connection.close()


def describe(error: BaseException) -> str:
    """A short, storable reason: the class and message, without a traceback."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {error.verify_message}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    text = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
