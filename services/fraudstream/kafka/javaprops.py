"""Read a Java `.properties` file: the client config format of Confluent's and Apache's tools.

`FRAUDSTREAM_KAFKA_CONFIG_FILE` takes the same file a user hands `kafka-console-producer
--producer.config` or Confluent Cloud's "client.properties", so one file configures every
tool. The grammar is `java.util.Properties.load`: `key=value`, `key: value` or `key value`,
`#`/`!` comments, a trailing backslash continues the line, `\\uXXXX` and `\\t`-style escapes.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["parse_properties", "read_properties"]

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _logical_lines(text: str) -> list[str]:
    """Physical lines joined where a line ends in an odd number of backslashes."""
    out: list[str] = []
    pending: str | None = None
    for raw in text.splitlines():
        line = raw.lstrip(" \t\f") if pending is not None else raw
        if pending is None and line.lstrip(" \t\f")[:1] in ("#", "!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending = (pending or "") + line[:-1]
            continue
        out.append((pending or "") + line)
        pending = None
    if pending is not None:
        out.append(pending)
    return out


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 >= len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u" and i + 6 <= len(text):
            try:
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            except ValueError:
                pass
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    """Key and value of one logical line: the key ends at an unescaped `=`, `:` or blank."""
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "=: \t\f":
            break
        i += 1
    key = line[:i]
    rest = line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":") and (i >= len(line) or line[i] in " \t\f=:"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(key), _unescape(rest)


def parse_properties(text: str) -> dict[str, str]:
    """The key/value pairs of a properties text (later keys win, as in Java)."""
    props: dict[str, str] = {}
    for line in _logical_lines(text):
        stripped = line.strip(" \t\f")
        if not stripped:
            continue
        key, value = _split(stripped)
        if key:
            props[key] = value
    return props


def read_properties(path: Path) -> dict[str, str]:
    """`parse_properties` of a file (UTF-8, as Java 9+ reads properties files)."""
    return parse_properties(path.read_text(encoding="utf-8"))
