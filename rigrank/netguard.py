"""The server fetches only public addresses (no SSRF into the machine or its network).

Every outbound fetch — retailer pages and their robots.txt, every redirect hop, the
admin's selector tester, Hugging Face downloads — refuses loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified
addresses, unless ``PRICE_FETCH_ALLOW_PRIVATE=1`` (tests and local fixtures serve shops
on 127.0.0.1) or the address is in ``PRICE_FETCH_ALLOWED_NETWORKS`` (e.g. an internal
Hugging Face mirror).

Two checks: ``check_url`` resolves a URL's host before a hop and names the reason;
``GuardedAdapter`` (requests) checks the address each connection actually reached,
before a byte is sent, so a name that resolves differently the second time (DNS
rebinding) is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(OSError):
    """The destination is not a public address (an OSError, so HTTP clients treat it as
    a connection that could not be made)."""


def allow_private() -> bool:
    return bool(getattr(settings, "PRICE_FETCH_ALLOW_PRIVATE", False))


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(n, strict=False)
        for n in getattr(settings, "PRICE_FETCH_ALLOWED_NETWORKS", [])
    ]


def why_blocked(address: str) -> str:
    """Why ``address`` may not be fetched ("" when it may)."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if allow_private() or any(ip in net for net in _allowed_networks()):
        return ""
    for label, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return label
    if not ip.is_global:
        return "not public"
    return ""


def check_host(host: str, port: int | None = None) -> None:
    """Raise BlockedAddress if ``host`` is, or resolves to, a non-public address."""
    host = host.strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port or 80, proto=socket.IPPROTO_TCP)
        except socket.gaierror:
            return  # the fetch itself reports that the name does not resolve
        addresses = sorted({info[4][0] for info in infos})
    for address in addresses:
        reason = why_blocked(address)
        if reason:
            raise BlockedAddress(
                f"{host} is a {reason} address ({address}); the server fetches only public "
                "addresses (PRICE_FETCH_ALLOW_PRIVATE=1 allows others)"
            )


def check_url(url: str) -> None:
    """Raise BlockedAddress if the URL's host is not a public address."""
    parts = urlsplit(url)
    if parts.hostname:
        check_host(parts.hostname, parts.port)


def _check_peer(sock: socket.socket) -> None:
    address = sock.getpeername()[0]
    reason = why_blocked(address)
    if reason:
        sock.close()
        raise BlockedAddress(
            f"connected to a {reason} address ({address}); the server fetches only public "
            "addresses (PRICE_FETCH_ALLOW_PRIVATE=1 allows others)"
        )


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' HTTPAdapter whose connections refuse non-public peers."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _hf_request_hook(request) -> None:
    check_url(str(request.url))


def guard_hf_hub() -> None:
    """Make huggingface_hub check every request it sends, redirects included."""
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils import _http

    if getattr(_http, "_rigrank_guarded", False):
        return

    def factory():
        client = _http.default_client_factory()
        client.event_hooks["request"].append(_hf_request_hook)
        return client

    set_client_factory(factory)
    _http._rigrank_guarded = True
