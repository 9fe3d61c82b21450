"""Where a webhook may go: the URL rules and the address rules, without Django.

A webhook URL is chosen by whoever uploads, and the worker POSTs to it from inside our
network, so it must not become a way to reach loopback, private, link-local or cloud-metadata
addresses. Two checks, both here:

- ``check_url`` when the URL is given: http(s) only, no userinfo, and every address its host
  resolves to is public (or allow-listed).
- ``check_address`` when delivering, on the address actually connected to, so a name that
  resolves elsewhere by then (DNS rebinding) gains nothing.

The allow-list holds host names and networks. A listed name lets its URL through at upload
without resolving it; the address connected to must still be public or inside a listed
network, so a listed name whose DNS changes later cannot reach internal addresses either.
"""

import ipaddress
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = {"http": 80, "https": 443}

# The well-known NAT64 prefix: its last 32 bits are the IPv4 address a gateway forwards to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookRefused(Exception):
    """This URL or address must not be called. Permanent: retrying cannot change the answer."""


class ResolutionFailed(Exception):
    """The host name did not resolve (in time). Possibly transient."""


@dataclass(frozen=True)
class AllowList:
    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        """Entries are host names or networks ("10.1.0.0/16", "::1", "127.0.0.1/32").

        Raises ValueError for an entry that is neither, so a typo fails loudly.
        """
        names, networks = set(), []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                if "/" in entry or ":" in entry or not _looks_like_hostname(entry):
                    raise ValueError(f"not a host name or network: {entry!r}") from None
            names.add(_normal_name(entry))
        return cls(frozenset(names), tuple(networks))

    def has_name(self, host: str) -> bool:
        return _normal_name(host) in self.names

    def has_address(self, address: IPAddress) -> bool:
        # An IPv4-mapped address is the IPv4 address itself; other embeddings (6to4, NAT64)
        # reach it only through a gateway, so listing a network does not list them.
        mapped = getattr(address, "ipv4_mapped", None)
        return any(
            candidate.version == network.version and candidate in network
            for network in self.networks
            for candidate in ([address, mapped] if mapped else [address])
        )


@dataclass(frozen=True)
class Target:
    """A checked webhook URL, split into what a connection needs."""

    scheme: str
    host: str  # a name, or an address without brackets
    port: int
    path: str  # path and query, never empty

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"


def parse_url(url: str) -> Target:
    """Split a URL, refusing what is never allowed whatever the allow-list says."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookRefused(f"not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise WebhookRefused(f"only http and https webhooks are allowed, not {scheme or '(none)'}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookRefused("a webhook URL may not carry a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookRefused("the webhook URL has no host")
    try:
        host = host.encode("idna").decode("ascii")  # what DNS and the Host header carry
    except UnicodeError:
        raise WebhookRefused(f"not a valid host name: {host}") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, host, port or SCHEMES[scheme], path)


def check_url(url: str, allow: AllowList, *, resolve_timeout: float) -> Target:
    """The upload-time check: raises WebhookRefused with the reason, or returns the target."""
    target = parse_url(url)
    literal = _literal(target.host)
    if literal is not None:
        check_address(literal, allow)
        return target
    if allow.has_name(target.host):
        return target
    try:
        addresses = resolve(target.host, target.port, timeout=resolve_timeout)
    except ResolutionFailed as error:
        raise WebhookRefused(str(error)) from None
    for address in addresses:
        check_address(address, allow, host=target.host)
    return target


def check_address(address: IPAddress, allow: AllowList, *, host: str = "") -> None:
    """Raise WebhookRefused unless the address is public or inside an allow-listed network."""
    if allow.has_address(address):
        return
    reason = _non_public_reason(address)
    if reason:
        named = f"{host} resolves to {address}" if host else str(address)
        raise WebhookRefused(f"{named}, a {reason} address: webhooks go to public addresses")


# Resolution runs on a few shared threads so that a resolver that hangs costs the caller its
# timeout, not the system resolver's (which can be 5 s per try and per name server).
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


def resolve(host: str, port: int, *, timeout: float) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order (at least one)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.001))
    except FutureTimeout:
        raise ResolutionFailed(f"{host} did not resolve within {timeout:.1f} s") from None
    except (OSError, UnicodeError) as error:
        raise ResolutionFailed(f"{host} does not resolve: {error}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Scoped IPv6 ("fe80::1%eth0") keeps its zone out of the address.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ResolutionFailed(f"{host} does not resolve to any address")
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _non_public_reason(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        # Addresses that carry an IPv4 address are judged by it: mapped ones are it, NAT64
        # gateways forward to it, 6to4 relays route to it.
        if address.ipv4_mapped:
            return _non_public_reason(address.ipv4_mapped)
        if address in _NAT64:
            return _non_public_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour and _non_public_reason(address.sixtofour):
            return _non_public_reason(address.sixtofour)
    for reason, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return reason
    # is_global also excludes shared (100.64/10) and other special-purpose ranges.
    return None if address.is_global else "non-public"


def _normal_name(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _looks_like_hostname(entry: str) -> bool:
    labels = _normal_name(entry).split(".")
    return all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)
