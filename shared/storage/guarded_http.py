"""HTTPS to allow-listed hosts at public addresses only, checked where the socket is opened.

Checking a URL's host before the request is not enough: the name may resolve to
``127.0.0.1`` or ``169.254.169.254`` (the metadata server), or to another address on the next
lookup (DNS rebinding). So the connection itself resolves the name once, refuses it unless
*every* address is public (rule ``public_address``), and connects to the address it checked;
TLS still verifies the certificate against the host name. The host is checked against the
allow-list again here (rule ``https_host``), so no URL parser disagreement can lead elsewhere.
No proxy and no ``.netrc`` from the environment are used, and redirects are never followed
(:mod:`shared.storage.answers`).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool

from shared.storage.policy import LocationRefused

NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

_local = threading.local()


def is_public_address(address: str) -> bool:
    """Whether ``address`` is a global unicast address, also where an IPv6 form embeds an IPv4 one.

    ``is_global`` already leaves out loopback, private (RFC 1918, ULA), link-local (and with it
    the 169.254.169.254 metadata server), shared (100.64/10), reserved and unspecified ranges.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])   # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


class _GuardedConnection(HTTPSConnection):
    """A TLS connection that opens its socket only to a checked address of an allowed host."""

    allowed_hosts: frozenset[str] = frozenset()

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.lower().removesuffix(".")
        if host not in self.allowed_hosts:
            raise LocationRefused("https_host", f"{host!r} is not in IMAGE_ALLOWED_HOSTS")
        try:
            infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectionError(f"cannot resolve {host!r}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        refused = [address for address in addresses if not is_public_address(address)]
        if refused:
            raise LocationRefused("public_address", f"{host!r} resolves to {', '.join(refused)}, which is not a "
                                                    "public address (loopback, private, link-local or reserved)")
        last_error: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout, self.source_address)
            except OSError as exc:
                last_error = exc
                continue
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            return sock
        raise ConnectionError(f"cannot connect to {host!r}: {last_error}")


@functools.cache
def _adapter_class(allowed_hosts: frozenset[str]) -> type[HTTPAdapter]:
    connection = type("GuardedConnection", (_GuardedConnection,), {"allowed_hosts": allowed_hosts})
    pool = type("GuardedPool", (HTTPSConnectionPool,), {"ConnectionCls": connection})

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"https": pool}

    return GuardedAdapter


def guarded_session(allowed_hosts: tuple[str, ...]) -> requests.Session:
    """This thread's session for ``https://`` to ``allowed_hosts`` (plain ``http://`` has no adapter)."""
    key = frozenset(allowed_hosts)
    sessions: dict[frozenset[str], requests.Session] = _local.__dict__.setdefault("sessions", {})
    if key not in sessions:
        session = requests.Session()
        session.trust_env = False            # no proxy, no .netrc: the connection goes where it was checked
        session.adapters.clear()
        session.mount("https://", _adapter_class(key)())
        sessions[key] = session
    return sessions[key]
