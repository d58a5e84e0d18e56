"""URL UDFs (URL_EXTRACT_*, URL_ENCODE_PARAM, URL_DECODE_PARAM) on java.net.URI's rules.

ksqlDB parses with `new URI(url)` (RFC 2396 as Java implements it): an illegal character or
malformed escape is an error (NULL with a processing-log entry); an authority that is not a
valid host[:port] is a registry-based one (no host, no port); a URI with a scheme and no
leading '/' is opaque (no path, no query); path, query and fragment are returned
percent-decoded (UTF-8). Registered into `functions` on import.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T

__all__ = ["JavaUri", "parse_uri"]

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_UNRESERVED = set(_ALNUM + "-_.!~*'()")
_RESERVED = set(";/?:@&=+$,")
_PCHAR = _UNRESERVED | set(":@&=+$,")
_PATH = _PCHAR | set(";/")
_URIC = _UNRESERVED | _RESERVED
_USERINFO = _UNRESERVED | set(";:&=+$,")
_REGISTRY = _UNRESERVED | set("$,;:@&=+")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


def _other(c: str) -> bool:
    """Java URI's "other" characters: non-ASCII, not control, not a space character."""
    return ord(c) > 127 and unicodedata.category(c) not in ("Cc", "Zs", "Zl", "Zp")


def _check(text: str, allowed: set[str], what: str, url: str) -> None:
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            if not _ESCAPE.match(text, i):
                raise KsqlProcessingError(f"URL input has invalid syntax: {url} (escape in {what})")
            i += 3
            continue
        if c not in allowed and not _other(c):
            raise KsqlProcessingError(f"URL input has invalid syntax: {url} (character in {what})")
        i += 1


@dataclass
class JavaUri:
    scheme: str | None = None
    host: str | None = None
    port: int = -1
    path: str | None = None
    query: str | None = None
    fragment: str | None = None


def _hostname(host: str) -> bool:
    if _IPV4.fullmatch(host):
        return all(int(x) <= 255 for x in host.split("."))
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(_LABEL.fullmatch(x) for x in labels):
        return False
    return labels[-1][0].isalpha()


def _server(auth: str) -> tuple[str, int] | None:
    """host and port of a server-based authority, or None (then it is registry-based)."""
    rest = auth
    if "@" in rest:
        info, rest = rest.split("@", 1)
        if any(c not in _USERINFO and c != "%" and not _other(c) for c in info):
            return None
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0 or not re.fullmatch(r"[0-9A-Fa-f:.]+", rest[1:end]):
            return None
        host, tail = rest[: end + 1], rest[end + 1 :]
    else:
        host, sep, port_text = rest.partition(":")
        tail = sep + port_text
        if not host or not _hostname(host):
            return None
    port = -1
    if tail:
        digits = tail[1:]
        if tail[0] != ":" or (digits and not re.fullmatch(r"[0-9]+", digits)):
            return None
        if digits:
            port = int(digits)
    return host, port


def parse_uri(url: str) -> JavaUri:
    """`new URI(url)`'s components (decoded as URI's getters return them)."""
    out = JavaUri()
    s = url
    hash_at = s.find("#")
    if hash_at >= 0:
        frag = s[hash_at + 1 :]
        _check(frag, _URIC, "fragment", url)
        out.fragment = unquote(frag, errors="replace")
        s = s[:hash_at]
    stop = min((i for i in (s.find(c) for c in "/?#") if i >= 0), default=len(s))
    colon = s.find(":")
    if 0 <= colon < stop:
        if colon == 0 or not _SCHEME.fullmatch(s[:colon]):
            raise KsqlProcessingError(f"URL input has invalid syntax: {url} (scheme)")
        out.scheme = s[:colon]
        s = s[colon + 1 :]
        if not s:
            raise KsqlProcessingError(f"URL input has invalid syntax: {url} (empty part)")
        if not s.startswith("/"):
            _check(s, _URIC, "scheme-specific part", url)
            return out  # opaque: no authority, path or query
    if s.startswith("//"):
        end = min((i for i in (s.find(c, 2) for c in "/?") if i >= 0), default=len(s))
        auth = s[2:end]
        if auth:
            server = _server(auth)
            if server is not None:
                out.host, out.port = server
            else:
                _check(auth, _REGISTRY, "authority", url)
        elif end == len(s) and out.fragment is None:
            raise KsqlProcessingError(f"URL input has invalid syntax: {url} (authority)")
        s = s[end:]
    path, q, query = s.partition("?")
    _check(path, _PATH, "path", url)
    out.path = unquote(path, errors="replace")
    if q:
        _check(query, _URIC, "query", url)
        out.query = unquote(query, errors="replace")
    return out


def _extract(name: str, rt: T.SqlType, get: Any, extra: int = 0) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        if len(types) != 1 + extra or any(t.base not in (T.STRING, T.NULL) for t in types):
            raise bad_args(name, types)
        return Resolved(rt, lambda url, *args: get(parse_uri(url), *args))

    register(name)(resolver)


def _param(u: JavaUri, name: str) -> str | None:
    if u.query is None:
        return None
    for param in u.query.split("&"):
        k, eq, v = param.partition("=")
        if k == name:
            return v if eq else ""
    return None


_extract("URL_EXTRACT_FRAGMENT", T.T_STRING, lambda u: u.fragment)
_extract("URL_EXTRACT_HOST", T.T_STRING, lambda u: u.host)
_extract("URL_EXTRACT_PATH", T.T_STRING, lambda u: u.path)
_extract("URL_EXTRACT_PORT", T.T_INTEGER, lambda u: u.port if u.port >= 0 else None)
_extract("URL_EXTRACT_PROTOCOL", T.T_STRING, lambda u: u.scheme)
_extract("URL_EXTRACT_QUERY", T.T_STRING, lambda u: u.query)
_extract("URL_EXTRACT_PARAMETER", T.T_STRING, _param, extra=1)

_FORM_SAFE = set(_ALNUM + "-_.*")


def encode_param(s: str) -> str:
    """Guava's urlFormParameterEscaper: alphanumerics and -_.* kept, space as '+', the rest
    %XX (upper case) of its UTF-8 bytes."""
    out = []
    for c in s:
        if c in _FORM_SAFE:
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append("".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass")))
    return "".join(out)


def decode_param(s: str) -> str:
    """java.net.URLDecoder.decode(s, UTF-8): '+' is a space, %XX runs are UTF-8 bytes; a
    malformed escape is an error."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", s):
        raise KsqlProcessingError(f"URLDecoder: Illegal hex characters in escape pattern: {s}")
    return unquote(s.replace("+", " "), errors="replace")


@register("URL_ENCODE_PARAM")
def _url_encode(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1 or types[0].base not in (T.STRING, T.NULL):
        raise bad_args("URL_ENCODE_PARAM", types)
    return Resolved(T.T_STRING, encode_param)


@register("URL_DECODE_PARAM")
def _url_decode(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1 or types[0].base not in (T.STRING, T.NULL):
        raise bad_args("URL_DECODE_PARAM", types)
    return Resolved(T.T_STRING, decode_param)
