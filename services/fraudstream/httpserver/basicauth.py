"""HTTP basic auth as Confluent's servers do it: users from a Jetty-style password file.

Confluent's registry and ksqlDB read `user: password[,role...]` lines (JAAS
`PropertyFileLoginModule`); the same file works here, as does one user given by variables.
Passwords are kept only as digests and compared in constant time; nothing here logs or
raises a message that contains one.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fraudstream.errors import ConfigError
from fraudstream.httpserver.settings import HTTP_ENV_PREFIX, HttpSecuritySettings, split_list

__all__ = ["AuthResult", "BasicAuth", "basic_auth_from", "parse_users_file"]

_USERS_VAR = f"{HTTP_ENV_PREFIX}BASIC_AUTH_USERS_FILE"


class AuthResult(enum.Enum):
    OK = "ok"
    UNAUTHENTICATED = "unauthenticated"  # 401: no or wrong credentials
    FORBIDDEN = "forbidden"  # 403: a known user without an allowed role


@dataclass(frozen=True)
class _User:
    scheme: str  # "PLAIN" (sha256 of the password) or "MD5" (Jetty's MD5: hex digest)
    digest: bytes
    roles: frozenset[str]

    def matches(self, password: str) -> bool:
        raw = password.encode("utf-8")
        got = hashlib.md5(raw).digest() if self.scheme == "MD5" else hashlib.sha256(raw).digest()
        return hmac.compare_digest(got, self.digest)


def _user(password: str, roles: frozenset[str], where: str) -> _User:
    scheme, _, rest = password.partition(":")
    if scheme == "MD5" and rest:
        try:
            return _User("MD5", bytes.fromhex(rest), roles)
        except ValueError:
            raise ConfigError(f"{where}: MD5: password is not hex") from None
    if scheme in {"OBF", "CRYPT"} and rest:
        raise ConfigError(f"{where}: {scheme}: passwords are not supported (use plain or MD5:)")
    return _User("PLAIN", hashlib.sha256(password.encode("utf-8")).digest(), roles)


def parse_users_file(path: Path) -> dict[str, _User]:
    """`user: password[,role...]` per line; `#` comments; errors name the line, not the secret."""
    users: dict[str, _User] = {}
    for num, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(("#", "!")):
            continue
        where = f"{_USERS_VAR}: {path} line {num}"
        name, sep, rest = text.partition(":")
        if not sep or not name.strip() or not rest.strip():
            raise ConfigError(f"{where}: expected 'user: password[,role...]'")
        password, *roles = (part.strip() for part in rest.split(","))
        users[name.strip()] = _user(password, frozenset(r for r in roles if r), where)
    if not users:
        raise ConfigError(f"{_USERS_VAR}: {path} defines no user")
    return users


class BasicAuth:
    """Checks an `Authorization` header against the configured users and roles."""

    def __init__(
        self, users: Mapping[str, _User], realm: str, roles: frozenset[str] = frozenset()
    ) -> None:
        self._users = dict(users)
        self.realm = realm
        self.roles = roles
        # A digest to compare against for unknown users, so timing does not tell them apart.
        self._decoy = _User("PLAIN", hashlib.sha256(b"\x00decoy").digest(), frozenset())

    @property
    def challenge(self) -> str:
        return f'Basic realm="{self.realm}"'

    def check(self, header: str | None) -> AuthResult:
        if not header:
            return AuthResult.UNAUTHENTICATED
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return AuthResult.UNAUTHENTICATED
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return AuthResult.UNAUTHENTICATED
        name, sep, password = decoded.partition(":")
        user = self._users.get(name)
        ok = (user or self._decoy).matches(password)
        if not sep or user is None or not ok:
            return AuthResult.UNAUTHENTICATED
        if self.roles and not (user.roles & self.roles):
            return AuthResult.FORBIDDEN
        return AuthResult.OK


def basic_auth_from(settings: HttpSecuritySettings) -> BasicAuth | None:
    """The configured users (a file and/or one user), or None when auth is off."""
    users: dict[str, _User] = {}
    if settings.basic_auth_users_file is not None:
        users.update(parse_users_file(settings.basic_auth_users_file))
    if settings.basic_auth_user:
        password = settings.password()
        if password is None or not password.get_secret_value():
            raise ConfigError(
                f"{HTTP_ENV_PREFIX}BASIC_AUTH_PASSWORD: required when "
                f"{HTTP_ENV_PREFIX}BASIC_AUTH_USER is set (or BASIC_AUTH_PASSWORD_FILE)"
            )
        roles = frozenset(split_list(settings.auth_roles))
        where = f"{HTTP_ENV_PREFIX}BASIC_AUTH_PASSWORD"
        users[settings.basic_auth_user] = _user(password.get_secret_value(), roles, where)
    if not users:
        return None
    return BasicAuth(users, settings.auth_realm, frozenset(split_list(settings.auth_roles)))
