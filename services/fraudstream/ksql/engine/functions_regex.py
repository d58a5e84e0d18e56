"""REGEXP_* UDFs: java.util.regex patterns translated to Python's `re` exactly, or refused.

Translated: literals, `.` (not matching Java's line terminators), `^`, `$` / `\\Z` (before a
final line terminator), `\\A`, `\\z`, classes `[...]` (ranges, negation, `\\d \\w \\s`
inside), the ASCII classes `\\d \\D \\w \\W \\s \\S`, groups (capturing, `(?:`, named,
look-ahead/behind, atomic), quantifiers (greedy, lazy, possessive), alternation, `\\Q...\\E`,
back references `\\1`-`\\9` and `\\k<name>`, character escapes. Refused ("not supported by the
embedded engine: regular expression ..."): inline flags, `\\b \\B \\p{..} \\R \\G \\h \\v`,
octal / control escapes, nested or intersected classes, and anything else. Registered into
`functions` on import.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache
from typing import Any

from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.engine.messages import not_supported
from fraudstream.ksql.errors import KsqlProcessingError, KsqlUnsupportedError
from fraudstream.ksql.sql import types as T

__all__ = ["java_regex"]

_TERMINATORS = "\\n\\r\\u0085\\u2028\\u2029"
_END = rf"(?=(?:\r\n|[{_TERMINATORS}])?\Z)"
_CLASS_ESC = {"d": "0-9", "w": "a-zA-Z_0-9", "s": " \\t\\n\\x0b\\f\\r"}
_OUT_ESC = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[a-zA-Z_0-9]",
    "W": "[^a-zA-Z_0-9]",
    "s": "[ \\t\\n\\x0b\\f\\r]",
    "S": "[^ \\t\\n\\x0b\\f\\r]",
    "A": "\\A",
    "z": "\\Z",
    "Z": _END,
    "t": "\\t",
    "n": "\\n",
    "r": "\\r",
    "f": "\\f",
    "a": "\\x07",
    "e": "\\x1b",
}
_QUANT = re.compile(r"\{\d+(?:,\d*)?\}")


def _refuse(pattern: str, what: str) -> KsqlUnsupportedError:
    return KsqlUnsupportedError(not_supported(f"regular expression {what} in '{pattern}'"))


def _class(p: str, i: int) -> tuple[str, int]:
    """Translate the class starting at p[i] == '['; returns (python, index after ']')."""
    out = ["["]
    i += 1
    if i < len(p) and p[i] == "^":
        out.append("^")
        i += 1
    if i < len(p) and p[i] == "]":
        raise _refuse(p, "']' first in a class")
    while i < len(p) and p[i] != "]":
        c = p[i]
        if c == "[" or p.startswith("&&", i):
            raise _refuse(p, "nested or intersected class")
        if c == "\\":
            if i + 1 >= len(p):
                raise _refuse(p, "trailing backslash")
            e = p[i + 1]
            if e in _CLASS_ESC:
                out.append(_CLASS_ESC[e])
            elif e in "tnrf":
                out.append("\\" + e)
            elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", p[i + 2 : i + 6]):
                out.append("\\u" + p[i + 2 : i + 6])
                i += 4
            elif e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", p[i + 2 : i + 4]):
                out.append("\\x" + p[i + 2 : i + 4])
                i += 2
            elif not e.isalnum():
                out.append("\\" + e)
            else:
                raise _refuse(p, f"escape \\{e} in a class")
            i += 2
            continue
        out.append("\\" + c if c in "&~|^" else c)
        i += 1
    if i >= len(p):
        raise KsqlProcessingError(f"Unclosed character class near index {i}: {p}")
    out.append("]")
    return "".join(out), i + 1


@lru_cache(maxsize=256)
def java_regex(p: str) -> re.Pattern[str]:
    """The compiled Python equivalent of the Java pattern `p` (KsqlUnsupportedError when it
    uses what is not translated; KsqlProcessingError when Java rejects it too)."""
    out: list[str] = []
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise KsqlProcessingError(f"Unexpected internal error near index {i}: {p}")
            e = p[i + 1]
            if e in _OUT_ESC:
                out.append(_OUT_ESC[e])
                i += 2
            elif e == "Q":
                end = p.find("\\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(p[i + 2 : end]))
                i = end + 2
            elif e in "123456789" and not (i + 2 < n and p[i + 2].isdigit()):
                out.append("\\" + e)
                i += 2
            elif e == "k" and (m := re.match(r"<([A-Za-z][A-Za-z0-9]*)>", p[i + 2 :])):
                out.append(f"(?P={m.group(1)})")
                i += 2 + m.end()
            elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", p[i + 2 : i + 6]):
                out.append("\\u" + p[i + 2 : i + 6])
                i += 6
            elif e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", p[i + 2 : i + 4]):
                out.append("\\x" + p[i + 2 : i + 4])
                i += 4
            elif not e.isalnum():
                out.append(re.escape(e))
                i += 2
            else:
                raise _refuse(p, f"escape \\{e}")
        elif c == "[":
            text, i = _class(p, i)
            out.append(text)
        elif c == ".":
            out.append(f"[^{_TERMINATORS}]")
            i += 1
        elif c == "$":
            out.append(_END)
            i += 1
        elif c == "(":
            if p.startswith("(?", i):
                m = re.match(r"\(\?(?::|=|!|<=|<!|>|<([A-Za-z][A-Za-z0-9]*)>)", p[i:])
                if m is None:
                    raise _refuse(p, "inline flags or group construct")
                out.append(f"(?P<{m.group(1)}>" if m.group(1) else m.group(0))
                i += m.end()
            else:
                out.append("(")
                i += 1
        elif c == "{":
            m = _QUANT.match(p, i)
            if m is None or not out:
                raise KsqlProcessingError(f"Illegal repetition near index {i}: {p}")
            out.append(m.group(0))
            i = m.end()
        else:
            out.append(c if c in "^*+?|)" else re.escape(c))
            i += 1
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise _refuse(p, f"({exc})") from None


def _check_regex(index: int) -> Any:
    def check(values: list[Any]) -> None:
        v = values[index] if index < len(values) else None
        if isinstance(v, str):
            with contextlib.suppress(KsqlProcessingError):  # Java rejects it per record too
                java_regex(v)

    return check


def _group_of(name: str, types: list[T.SqlType]) -> None:
    if len(types) not in (2, 3) or any(t.base not in (T.STRING, T.NULL) for t in types[:2]):
        raise bad_args(name, types)
    if len(types) == 3 and types[2].base not in (T.INTEGER, T.NULL):
        raise bad_args(name, types)


@register("REGEXP_EXTRACT")
def _regexp_extract(types: list[T.SqlType]) -> Resolved:
    """REGEXP_EXTRACT(pattern, input[, group]): the group of the first match, or NULL."""
    _group_of("REGEXP_EXTRACT", types)

    def impl(pattern: str, s: str, group: int = 0) -> str | None:
        r = java_regex(pattern)
        if group > r.groups:
            return None
        m = r.search(s)
        return None if m is None else m.group(group)

    return Resolved(T.T_STRING, impl, check=_check_regex(0))


@register("REGEXP_EXTRACT_ALL")
def _regexp_extract_all(types: list[T.SqlType]) -> Resolved:
    _group_of("REGEXP_EXTRACT_ALL", types)

    def impl(pattern: str, s: str, group: int = 0) -> list[str | None] | None:
        r = java_regex(pattern)
        if group > r.groups:
            return None
        return [m.group(group) for m in r.finditer(s)]

    return Resolved(T.array_of(T.T_STRING), impl, check=_check_regex(0))


_REPL = re.compile(r"\\(.)|\$(\d)|\$\{([A-Za-z][A-Za-z0-9]*)\}|(\$)", re.S)


def _java_replacement(r: re.Pattern[str], repl: str) -> Any:
    """Matcher.replaceAll's replacement text: `$n`, `${name}`, `\\` escapes the next char."""
    parts: list[Any] = []
    pos = 0
    for m in _REPL.finditer(repl):
        parts.append(repl[pos : m.start()])
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            g = int(m.group(2))
            if g > r.groups:
                raise KsqlProcessingError(f"No group {g}")
            parts.append(g)
        elif m.group(3) is not None:
            if m.group(3) not in r.groupindex:
                raise KsqlProcessingError(f"No group with name {{{m.group(3)}}}")
            parts.append(m.group(3))
        else:
            raise KsqlProcessingError("Illegal group reference: group index is missing")
        pos = m.end()
    parts.append(repl[pos:])

    def expand(m: re.Match[str]) -> str:
        return "".join(p if isinstance(p, str) else (m.group(p) or "") for p in parts)

    return expand


@register("REGEXP_REPLACE")
def _regexp_replace(types: list[T.SqlType]) -> Resolved:
    if len(types) != 3 or any(t.base not in (T.STRING, T.NULL) for t in types):
        raise bad_args("REGEXP_REPLACE", types)

    def impl(s: str, pattern: str, repl: str) -> str:
        r = java_regex(pattern)
        return r.sub(_java_replacement(r, repl), s)

    return Resolved(T.T_STRING, impl, check=_check_regex(1))


@register("REGEXP_SPLIT_TO_ARRAY")
def _regexp_split(types: list[T.SqlType]) -> Resolved:
    if len(types) != 2 or any(t.base not in (T.STRING, T.NULL) for t in types):
        raise bad_args("REGEXP_SPLIT_TO_ARRAY", types)

    def impl(s: str, pattern: str) -> list[str]:
        r = java_regex(pattern)
        if not pattern or r.fullmatch(""):
            # Pattern.split: no leading empty piece from a zero-width match at 0, trailing
            # empty pieces dropped
            pieces, pos = [], 0
            for m in r.finditer(s):
                if m.end() == 0:
                    continue
                pieces.append(s[pos : m.start()])
                pos = m.end()
            if not pieces:
                return [s]
            pieces.append(s[pos:])
            while pieces and pieces[-1] == "":
                pieces.pop()
            return pieces
        # Guava's Splitter.on(pattern): every piece kept, empty ones included
        out, pos = [], 0
        for m in r.finditer(s):
            if m.start() == m.end():
                raise KsqlProcessingError(
                    not_supported(f"REGEXP_SPLIT_TO_ARRAY with '{pattern}' matching empty text")
                )
            out.append(s[pos : m.start()])
            pos = m.end()
        out.append(s[pos:])
        return out

    return Resolved(T.array_of(T.T_STRING), impl, check=_check_regex(1))
