"""The ASGI layer in front of every embedded server: who may call, with what, how much.

Checked in this order, before the app sees the request:
1. `Host` outside the allow-list -> 421 (DNS rebinding: a page on a name the attacker
   controls that resolves to 127.0.0.1 would otherwise read our answers).
2. a cross-site browser request (`Origin` not this server's own or an allowed one;
   `Sec-Fetch-Site: cross-site|same-site`) -> 403 (a page POSTing to 127.0.0.1).
3. basic auth, when configured -> 401 / 403.
4. POST/PUT/PATCH with a body whose `Content-Type` is not one the server speaks -> 415
   (browsers send `text/plain` and forms without a preflight; JSON types need one).
5. a body over the limit -> 413, from `Content-Length` before reading a byte, or while
   the body streams in; the app never holds more than the limit in memory.
Refusals are rendered in the app's own error format (Confluent's, ksqlDB's, plain text).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fraudstream.httpserver.basicauth import AuthResult, BasicAuth

__all__ = [
    "JSON_TYPES",
    "ErrorRenderer",
    "Guard",
    "GuardPolicy",
    "HostRule",
    "plain_error",
]

JSON_TYPES = frozenset(
    {
        "application/json",
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/vnd.ksql.v1+json",
        "application/vnd.ksqlapi.delimited.v1",
    }
)
"""The JSON request types of Confluent's registry and ksqlDB; servers may narrow or extend."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

ErrorRenderer = Callable[[int, str], tuple[bytes, str]]
"""(status, message) -> (body, media type): each app answers refusals in its own format."""


def plain_error(status: int, message: str) -> tuple[bytes, str]:
    return message.encode() + b"\n", "text/plain; charset=utf-8"


def _split_host(value: str) -> tuple[str, int | None]:
    """`Host` header -> (lowercase name without brackets or trailing dot, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:
        name, port = value, ""
    return name.rstrip("."), int(port) if port.isdigit() else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostRule:
    """Names a server answers to; IP literals and `*.localhost` always (no rebinding)."""

    names: frozenset[str]

    @classmethod
    def of(cls, names: Collection[str]) -> HostRule:
        return cls(frozenset(n.strip().lower().rstrip(".") for n in names if n.strip()))

    def allows(self, host: str) -> bool:
        if "*" in self.names:
            return True
        name, _ = _split_host(host)
        if not name or name in self.names or _is_ip(name):
            return True
        if name == "localhost" or name.endswith(".localhost"):
            return True
        return any(n.startswith(".") and (name.endswith(n) or name == n[1:]) for n in self.names)


@dataclass(frozen=True)
class GuardPolicy:
    """What one server enforces; built by `HttpServer` from settings and the app's needs."""

    hosts: HostRule = field(default_factory=lambda: HostRule.of(["localhost", "127.0.0.1"]))
    allowed_origins: frozenset[str] = frozenset()
    content_types: frozenset[str] = JSON_TYPES
    max_body_bytes: int = 1 << 20
    auth: BasicAuth | None = None
    public_paths: frozenset[str] = frozenset()
    render: ErrorRenderer = plain_error


def _origin_tuple(origin: str) -> tuple[str, str, int | None] | None:
    parts = urlsplit(origin)
    if not parts.scheme or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port


class Guard:
    """ASGI middleware enforcing a `GuardPolicy` (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy
        self._origins = {o for o in (_origin_tuple(x) for x in policy.allowed_origins) if o}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, message, extra = refusal
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await self._respond(send, status, message, extra)
            return
        if scope["type"] == "http" and scope["method"] in BODY_METHODS:
            await self._limited(scope, receive, send)
            return
        await self.app(scope, receive, send)

    # ---- checks ----------------------------------------------------------------------
    def _refusal(
        self, scope: Scope, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        p = self.policy
        host = headers.get("host", "")
        if host and not p.hosts.allows(host):
            return 421, "Misdirected Request: this server does not answer for that Host", []
        if self._cross_site(scope, headers):
            return 403, "Forbidden: cross-site requests are refused", []
        if p.auth is not None and scope.get("path", "") not in p.public_paths:
            result = p.auth.check(headers.get("authorization"))
            if result is AuthResult.UNAUTHENTICATED:
                challenge = [(b"www-authenticate", p.auth.challenge.encode())]
                return 401, "Unauthorized", challenge
            if result is AuthResult.FORBIDDEN:
                return 403, "Forbidden: user not in an allowed role", []
        if scope["type"] == "http" and scope["method"] in BODY_METHODS and _has_body(headers):
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media not in p.content_types:
                allowed = ", ".join(sorted(p.content_types))
                return 415, f"Unsupported Media Type {media or '(none)'}: use {allowed}", []
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > p.max_body_bytes:
            return 413, self._too_large(), []
        return None

    def _cross_site(self, scope: Scope, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is not None:
            parsed = _origin_tuple(origin)
            if parsed is not None and parsed in self._origins:
                return False
            return parsed is None or parsed != self._own_origin(scope, headers)
        return headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site")

    @staticmethod
    def _own_origin(scope: Scope, headers: dict[str, str]) -> tuple[str, str, int | None]:
        raw = str(scope.get("scheme", "http"))
        scheme = {"ws": "http", "wss": "https"}.get(raw, raw)
        name, port = _split_host(headers.get("host", ""))
        return scheme, name, port or _DEFAULT_PORTS.get(scheme)

    def _too_large(self) -> str:
        return f"Request Entity Too Large: the body limit is {self.policy.max_body_bytes} bytes"

    # ---- responses ---------------------------------------------------------------------
    async def _respond(
        self, send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]]
    ) -> None:
        body, media = self.policy.render(status, message)
        headers = [
            (b"content-type", media.encode()),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count body bytes as they arrive; past the limit answer 413 and cut the app off."""
        limit = self.policy.max_body_bytes
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._respond(send, 413, self._too_large(), [])
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 already went out; the app's answer to the cut-off is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app tripped over the cut-off body (ClientDisconnect); the 413 is the answer.


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _has_body(headers: dict[str, str]) -> bool:
    length = headers.get("content-length", "").strip()
    if length:
        return length != "0"
    return "transfer-encoding" in headers
