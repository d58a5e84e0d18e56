"""Where a typed KSQL statement ends: `;` outside quotes and comments, over several lines.

The shell reads lines until the text holds at least one complete statement; what follows the
last `;` stays in the buffer for the next line (as the ksqlDB CLI does). Quoting follows
ksqlDB: `'...'` strings (`''` escapes a quote), `` `...` `` and `"..."` identifiers, `--`
line comments and `/* */` block comments.
"""

from __future__ import annotations

__all__ = ["split_complete"]


def _skip_quoted(text: str, i: int, quote: str) -> int:
    """Index just past the closing quote of the quoted part opening at i (len: unclosed)."""
    j = i + 1
    while j < len(text):
        if text[j] == quote:
            if j + 1 < len(text) and text[j + 1] == quote:  # doubled quote: an escape
                j += 2
                continue
            return j + 1
        j += 1
    return len(text)


def _skip_comment(text: str, i: int) -> int:
    """Index just past the comment starting at i (len: runs to the end)."""
    if text.startswith("--", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end + 1
    end = text.find("*/", i + 2)
    return len(text) if end < 0 else end + 2


def split_complete(buffer: str) -> tuple[list[str], str]:
    """(complete statements each ending in `;`, the unfinished rest of the buffer)."""
    done: list[str] = []
    start = 0
    i = 0
    while i < len(buffer):
        ch = buffer[i]
        if ch in "'`\"":
            i = _skip_quoted(buffer, i, ch)
            continue
        if buffer.startswith("--", i) or buffer.startswith("/*", i):
            i = _skip_comment(buffer, i)
            continue
        if ch == ";":
            statement = buffer[start : i + 1].strip()
            if statement != ";":
                done.append(statement)
            start = i + 1
        i += 1
    return done, buffer[start:]
