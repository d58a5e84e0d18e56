"""Split KSQL text into statements and read each one's leading words.

A character scanner (quotes, back-quotes, double quotes, `--` and `/* */` comments) that
finds the `;` ending each statement and the first few words of it. The server uses it to
run, record and answer statements one at a time (like ksqlDB); `apply` uses it to learn
which object a CREATE statement makes. Everything else about a statement is the engine's
parser's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Statement:
    """One statement: its text (with the `;`), its words outside literals, where it starts."""

    text: str
    words: tuple[str, ...] = field(default_factory=tuple)
    start: int = 0
    word_spans: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    @property
    def upper_words(self) -> tuple[str, ...]:
        return tuple(w.upper() for w in self.words)

    @property
    def kind(self) -> str:
        """CREATE, CSAS, INSERT, DROP, TERMINATE, LIST, DESCRIBE, SELECT, SET, ... (upper)."""
        w = self.upper_words
        if not w:
            return ""
        if w[0] == "CREATE":
            return "CSAS" if "AS" in w and "SELECT" in w else "CREATE"
        if w[0] == "SHOW":
            return "LIST"
        return w[0]

    def target(self) -> tuple[str, str] | None:
        """(STREAM|TABLE, NAME) for CREATE/DROP statements, else None."""
        w = list(self.upper_words)
        raw = list(self.words)
        if not w or w[0] not in ("CREATE", "DROP"):
            return None
        i = 1
        if w[0] == "CREATE" and w[i : i + 2] == ["OR", "REPLACE"]:
            i += 2
        if i >= len(w) or w[i] not in ("STREAM", "TABLE"):
            return None
        kind = w[i]
        i += 1
        if w[i : i + 3] == ["IF", "NOT", "EXISTS"]:
            i += 3
        elif w[i : i + 2] == ["IF", "EXISTS"]:
            i += 2
        if i >= len(raw):
            return None
        return kind, normalize_identifier(raw[i])

    def with_or_replace(self) -> str:
        """The statement with `CREATE` turned into `CREATE OR REPLACE` (IF NOT EXISTS removed)."""
        w = self.upper_words
        if not w or w[0] != "CREATE" or w[1:3] == ("OR", "REPLACE"):
            return self.text
        spans = self.word_spans
        text = self.text
        # Drop `IF NOT EXISTS` (ksqlDB does not allow it together with OR REPLACE).
        if w[2:5] == ("IF", "NOT", "EXISTS"):
            text = text[: spans[2][0]] + text[spans[4][1] :].lstrip(" ")
        s, e = spans[0]
        return text[:s] + text[s:e] + " OR REPLACE" + text[e:]


def normalize_identifier(word: str) -> str:
    """Unquoted identifiers are upper-cased (ksqlDB's rule); quoted ones keep their case."""
    if len(word) >= 2 and word[0] == word[-1] and word[0] in '`"':
        return word[1:-1]
    return word.upper()


def split_statements(text: str) -> list[Statement]:
    """Statements in order; comments are kept in the text but not counted as words."""
    out: list[Statement] = []
    n = len(text)
    i = 0
    start = 0
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if ch == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if ch in "'`\"":
            j = i + 1
            while j < n:
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            if ch != "'" and len(words) < 64:
                words.append(text[i : j + 1])
                spans.append((i - start, j + 1 - start))
            i = j + 1
            continue
        if ch == ";":
            body = text[start : i + 1]
            if words:
                lead = len(body) - len(body.lstrip())
                out.append(
                    Statement(
                        body.strip(),
                        tuple(words),
                        start + lead,
                        tuple((a - lead, b - lead) for a, b in spans),
                    )
                )
            start = i + 1
            words, spans = [], []
            i += 1
            continue
        if ch.isalpha() or ch == "_" or ch == "$":
            j = i + 1
            if ch == "$" and j < n and text[j] == "{":
                k = text.find("}", j)
                j = n if k < 0 else k + 1
            else:
                while j < n and (text[j].isalnum() or text[j] in "_@"):
                    j += 1
            if len(words) < 64:
                words.append(text[i:j])
                spans.append((i - start, j - start))
            i = j
            continue
        i += 1
    tail = text[start:]
    if words:
        lead = len(tail) - len(tail.lstrip())
        out.append(
            Statement(
                tail.strip(),
                tuple(words),
                start + lead,
                tuple((a - lead, b - lead) for a, b in spans),
            )
        )
    return out
