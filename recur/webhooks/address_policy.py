"""Where a webhook may be sent: the guard against server-side request forgery (SSRF).

A producer chooses the URL, and recur's servers POST to it: without a guard, a URL naming 127.0.0.1, 10.0.0.5 or
169.254.169.254 (a cloud's metadata service) would make recur reach into its own network for whoever registered it.
Outside the sandbox a URL must be https and its host must resolve only to public addresses: not loopback, private,
link-local, shared (CGNAT), multicast, reserved or unspecified, in IPv4 or IPv6, including IPv4 addresses carried
inside IPv6 ones (mapped, 6to4, NAT64, Teredo). A host resolving to any refused address is refused whole.

The check runs at registration (a 422 naming `url`) and again at every delivery, because DNS can change between the
two (or between two deliveries: "DNS rebinding"): the delivery then connects to the very address that was checked
(`Target.address`), never resolving the name a second time. In the sandbox (`RECUR_SANDBOX=1`) http and loopback
addresses are allowed too, so that tests and demos can receive on this machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
DEFAULT_PORTS = {"https": 443, "http": 80}


class AddressRefusedError(ValueError):
    """The URL may not be delivered to; the message says why, for the producer (a 422) or the delivery's record."""


class UnresolvedError(AddressRefusedError):
    """The host has no address (now): at registration a mistyped name, at delivery a failure to retry."""


@dataclass(frozen=True)
class Target:
    """A URL checked and pinned: the delivery connects to `address` and names `host` (Host header, TLS SNI, certificate)."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    address: str

    @property
    def is_https(self) -> bool:
        return self.scheme == "https"


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped ::ffff:a.b.c.d, 6to4, Teredo's client, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether the address is on the public internet (IANA's special-purpose registries say which are not)."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None and not is_public(carried):
            return False
    special = (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast or address.is_reserved
               or address.is_unspecified)
    return address.is_global and not special


def refusal(address: IPAddress, sandbox: bool) -> str | None:
    """Why recur may not connect to the address (None: it may)."""
    if is_public(address):
        return None
    carried = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if sandbox and (address.is_loopback or (carried is not None and carried.is_loopback)):
        return None
    kind = ("loopback" if address.is_loopback else "link-local" if address.is_link_local else "multicast" if address.is_multicast
            else "private" if address.is_private else "special-purpose")
    return f"resolves to {address}, a {kind} address: webhooks are only sent to public addresses"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for the host (IPv4 and IPv6)."""
    try:
        infos: list[Any] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvedError(f"the host does not resolve ({error})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_scheme(url: str, sandbox: bool) -> None:
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (sandbox and scheme == "http"):
        raise AddressRefusedError("must be an https URL" + ("" if not sandbox else " (or http, in the sandbox)"))


def resolve_target(url: str, sandbox: bool, resolve: Resolver = system_resolver) -> Target:
    """The URL checked and pinned to an address it resolves to; AddressRefusedError says why it may not be used."""
    check_scheme(url, sandbox)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise AddressRefusedError("has an invalid port") from None
    if not host:
        raise AddressRefusedError("names no host")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0] if "%" in host else host)
    except ValueError:
        literal = None
    if literal is not None and "%" in host:
        raise AddressRefusedError("must not name a network interface (a zone id)")
    addresses = [host] if literal is not None else resolve(host.rstrip("."), port)
    if not addresses:
        raise UnresolvedError("the host does not resolve")
    for address in addresses:
        reason = refusal(ipaddress.ip_address(address.split("%", 1)[0]), sandbox)
        if reason is not None:
            raise AddressRefusedError(reason)
    path = parts.path or "/"
    return Target(parts.scheme, host, port, path + (f"?{parts.query}" if parts.query else ""), addresses[0])
