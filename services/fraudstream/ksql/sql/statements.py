"""Split KSQL text into statements and read each one's leading words: THE splitter.

A character scanner (quotes, back-quotes, double quotes, `--` and `/* */` comments) that
finds the `;` ending each statement and the first few words of it. The engine and the server
use it to parse, run, record and answer statements one at a time (a DEFINE changes how the
statements after it parse, as in ksqlDB); `apply` uses it to learn which object a CREATE
statement makes. Everything else about a statement is the parser's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Statement", "normalize_identifier", "split_statements"]


@dataclass(frozen=True)
class Statement:
    """One statement: its text (with the `;`), its words outside literals, where it starts.

    `span` is the raw piece of the source it came from: from just after the previous `;`
    (comments and blank lines included) to its own `;` (or the end of the text)."""

    text: str
    words: tuple[str, ...] = field(default_factory=tuple)
    start: int = 0
    word_spans: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    span: tuple[int, int] = (0, 0)

    def piece(self, source: str) -> str:
        """The raw piece of `source` this statement came from (leading comments included)."""
        begin, end = self.span
        return source[begin:end]

    def parser_input(self, source: str) -> str:
        """The raw piece, preceded by as many newlines as come before it in `source`.

        Parsing this instead of `text` keeps syntax errors' `line:column` relative to the
        whole source text, as ksqlDB reports them."""
        return "\n" * source.count("\n", 0, self.span[0]) + self.piece(source)

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


def _piece(
    text: str, begin: int, end: int, words: list[str], spans: list[tuple[int, int]]
) -> Statement:
    body = text[begin:end]
    lead = len(body) - len(body.lstrip())
    return Statement(
        body.strip(),
        tuple(words),
        begin + lead,
        tuple((a - lead, b - lead) for a, b in spans),
        (begin, end),
    )


def _skip_quoted(text: str, i: int) -> int:
    """Index just past the quoted literal/identifier opening at `i` (doubled quotes escape)."""
    quote, n = text[i], len(text)
    j = i + 1
    while j < n:
        if text[j] == quote:
            if j + 1 < n and text[j + 1] == quote:
                j += 2
                continue
            break
        j += 1
    return j + 1


def _skip_word(text: str, i: int) -> int:
    """Index just past the word (or `${variable}`) starting at `i`."""
    n = len(text)
    j = i + 1
    if text[i] == "$" and j < n and text[j] == "{":
        k = text.find("}", j)
        return n if k < 0 else k + 1
    while j < n and (text[j].isalnum() or text[j] in "_@"):
        j += 1
    return j


def split_statements(text: str) -> list[Statement]:
    """Statements in order; comments are kept in the text but not counted as words.

    A piece holding nothing but comments and blanks is no statement; any other piece is one
    (even without words: the parser then reports its syntax error)."""
    out: list[Statement] = []
    n = len(text)
    i = 0
    begin = 0  # where the current piece starts (just after the previous `;`)
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    code = False  # the piece has something besides comments and blanks
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
        if ch.isspace():
            i += 1
            continue
        if ch == ";":
            if code:
                out.append(_piece(text, begin, i + 1, words, spans))
            begin, words, spans, code = i + 1, [], [], False
            i += 1
            continue
        code = True
        if ch in "'`\"":
            j = _skip_quoted(text, i)
            if ch != "'" and len(words) < 64:
                words.append(text[i:j])
                spans.append((i - begin, j - begin))
            i = j
        elif ch.isalpha() or ch in "_$":
            j = _skip_word(text, i)
            if len(words) < 64:
                words.append(text[i:j])
                spans.append((i - begin, j - begin))
            i = j
        else:
            i += 1
    if code:
        out.append(_piece(text, begin, n, words, spans))
    return out
