"""Where recur may send a webhook: public addresses over https only, outside the sandbox; loopback and http in the
sandbox too, so that tests and demos receive; never private, link-local, shared, multicast or reserved addresses,
whether named directly, carried inside an IPv6 address, or hidden behind a host name (the resolver is a parameter:
these tests resolve names from a table, the way a DNS server under an attacker's control could)."""

from __future__ import annotations

import pytest

from recur.webhooks.address_policy import AddressRefusedError, UnresolvedError, resolve_target

PUBLIC_V4, PUBLIC_V6 = "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"
REFUSED = [
    "10.0.0.7", "172.16.5.4", "192.168.1.1",  # private networks
    "127.0.0.1", "127.9.9.9", "::1",  # loopback
    "169.254.169.254", "fe80::1",  # link-local, a cloud's metadata service among them
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "0.0.0.0", "::",  # unspecified
    "224.0.0.251", "ff02::1",  # multicast
    "240.0.0.1", "255.255.255.255",  # reserved, broadcast
    "192.0.2.10", "198.51.100.7", "203.0.113.9",  # documentation ranges
    "fc00::1", "fd12:3456::1",  # unique local IPv6
    "::ffff:10.0.0.7", "::ffff:127.0.0.1",  # IPv4-mapped IPv6
    "2002:a00:7::1",  # 6to4 around 10.0.0.7
    "64:ff9b::a00:7",  # NAT64 around 10.0.0.7
]


def resolving(table: dict[str, list[str]]) -> object:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise UnresolvedError("the host does not resolve")
        return table[host]

    return resolve


def url_for(address: str) -> str:
    return f"https://[{address}]/hook" if ":" in address else f"https://{address}/hook"


@pytest.mark.parametrize("address", REFUSED)
def test_a_non_public_address_is_refused_outside_the_sandbox(address: str) -> None:
    with pytest.raises(AddressRefusedError, match="only sent to public addresses"):
        resolve_target(url_for(address), sandbox=False)


@pytest.mark.parametrize("address", [PUBLIC_V4, PUBLIC_V6])
def test_a_public_address_over_https_is_pinned_for_the_connection(address: str) -> None:
    target = resolve_target(url_for(address) + "?tenant=7", sandbox=False)
    assert (target.address, target.port, target.path, target.is_https) == (address, 443, "/hook?tenant=7", True)


def test_a_host_name_is_judged_by_every_address_it_resolves_to_and_pinned_to_one_of_them() -> None:
    resolve = resolving({"hooks.example.com": [PUBLIC_V4, PUBLIC_V6], "rebound.example.com": [PUBLIC_V4, "10.0.0.7"]})
    target = resolve_target("https://hooks.example.com:8443/in", sandbox=False, resolve=resolve)  # type: ignore[arg-type]
    assert (target.host, target.address, target.port) == ("hooks.example.com", PUBLIC_V4, 8443)
    with pytest.raises(AddressRefusedError, match="10.0.0.7"):
        resolve_target("https://rebound.example.com/in", sandbox=False, resolve=resolve)  # type: ignore[arg-type]
    with pytest.raises(UnresolvedError):
        resolve_target("https://typo.example.com/in", sandbox=False, resolve=resolve)  # type: ignore[arg-type]


def test_outside_the_sandbox_only_https_is_sent_to() -> None:
    with pytest.raises(AddressRefusedError, match="https"):
        resolve_target(f"http://{PUBLIC_V4}/hook", sandbox=False)


def test_the_sandbox_also_allows_http_and_loopback_but_not_private_networks() -> None:
    assert resolve_target("http://127.0.0.1:8080/hook", sandbox=True).address == "127.0.0.1"
    assert resolve_target("http://[::1]:8080/hook", sandbox=True).address == "::1"
    local = resolving({"localhost": ["127.0.0.1", "::1"]})
    assert resolve_target("http://localhost:9/h", sandbox=True, resolve=local).host == "localhost"  # type: ignore[arg-type]
    for address in ("10.0.0.7", "169.254.169.254", "192.168.1.1"):
        with pytest.raises(AddressRefusedError):
            resolve_target(url_for(address), sandbox=True)


def test_a_zone_id_or_a_url_without_host_is_refused() -> None:
    with pytest.raises(AddressRefusedError):
        resolve_target("https://[fe80::1%25eth0]/hook", sandbox=True)
    with pytest.raises(AddressRefusedError):
        resolve_target("https:///hook", sandbox=True)
