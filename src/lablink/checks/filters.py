"""The run filter language: a tiny grammar parsed into an AST (no I/O, no SQL here).

Grammar::

    expr     := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | atom
    atom     := "(" expr ")" | field op literal | field "in" "(" literal ("," literal)* ")"
              | field                      -- presence: tags.baseline, params.lr
    field    := metrics.<key> | params.<key> | tags.<tag> | <column>
    op       := = == != < <= > >= ~        -- ~ is "contains" for text
    literal  := number | "text" | 'text' | true | false

``<key>`` runs to the next space or operator and may contain ``/ . - : @``; wrap keys
with spaces in backticks: ``metrics.`val loss` < 1``. ``summary.`` is an alias of
``metrics.`` and ``config.`` of ``params.``. Columns: status, name, user, outcome, id,
host, created_at, ended_at, git.branch, git.commit.

Examples::

    metrics.val/acc > 0.9 and params.lr <= 1e-3
    tags.baseline and status = "finished"
    not tags.debug and (user = "ana@lab.org" or name ~ "resnet")
"""

from __future__ import annotations

import dataclasses
import re

from lablink.errors import FilterSyntaxError

COLUMNS = frozenset(
    {
        "status",
        "name",
        "user",
        "outcome",
        "id",
        "host",
        "created_at",
        "ended_at",
        "git.branch",
        "git.commit",
    }
)
NAMESPACES = {
    "metrics": "metric",
    "summary": "metric",
    "params": "param",
    "config": "param",
    "tags": "tag",
}
Literal = float | str | bool


@dataclasses.dataclass(frozen=True)
class Field:
    """``kind`` is metric, param, tag or column."""

    kind: str
    key: str


@dataclasses.dataclass(frozen=True)
class Compare:
    field: Field
    op: str  # one of = != < <= > >= ~ in
    value: Literal | tuple[Literal, ...]


@dataclasses.dataclass(frozen=True)
class Has:
    field: Field


@dataclasses.dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Not:
    item: Expr


Expr = Compare | Has | And | Or | Not

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lparen>\() | (?P<rparen>\)) | (?P<comma>,)
    | (?P<op>==|!=|<=|>=|=|<|>|~)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w/.:@-]))
    | (?P<word>(?:[A-Za-z_][\w]*\.)?(?:`[^`]+`|[^\s()=!<>~,"']+))
    )""",
    re.VERBOSE,
)


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens, or raise ``FilterSyntaxError`` at the first bad char."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.lastgroup is None:
            start = len(text) - len(text[pos:].lstrip())
            raise FilterSyntaxError.at(f"unexpected character {text[start]!r}", text, start)
        start = match.start(match.lastgroup)
        tokens.append(Token(match.lastgroup, match.group(match.lastgroup), start))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def error(self, message: str, token: Token | None = None) -> FilterSyntaxError:
        pos = token.pos if token else len(self.text)
        return FilterSyntaxError.at(message, self.text, pos)

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of filter")
        self.i += 1
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.lower() == word

    def parse(self) -> Expr:
        expr = self.parse_or()
        extra = self.peek()
        if extra is not None:
            raise self.error(f"unexpected {extra.text!r} (expected 'and', 'or' or the end)", extra)
        return expr

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.is_word("or"):
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Expr:
        items = [self.parse_not()]
        while self.is_word("and"):
            self.take()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Expr:
        if self.is_word("not"):
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def parse_atom(self) -> Expr:
        token = self.take()
        if token.kind == "lparen":
            expr = self.parse_or()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.error("missing ')'", close)
            self.take()
            return expr
        if token.kind != "word":
            raise self.error(f"expected a field such as metrics.<key>, got {token.text!r}", token)
        field = self.parse_field(token)
        nxt = self.peek()
        if nxt is not None and nxt.kind == "op":
            self.take()
            op = "=" if nxt.text == "==" else nxt.text
            value = self.parse_literal()
            if field.kind == "tag":
                raise self.error("tags are tested by presence: write tags.<tag>", nxt)
            if op == "~" and not isinstance(value, str):
                raise self.error("'~' (contains) needs a quoted text", nxt)
            return Compare(field, op, value)
        if self.is_word("in"):
            self.take()
            return Compare(field, "in", self.parse_list())
        if field.kind == "column":
            raise self.error(f'{field.key} needs a comparison, e.g. {field.key} = "..."', nxt)
        return Has(field)

    def parse_field(self, token: Token) -> Field:
        text = token.text
        if text.lower() in ("and", "or", "not", "in"):
            raise self.error(f"expected a field, got the keyword {text!r}", token)
        if text in COLUMNS:
            return Field("column", text)
        head, dot, key = text.partition(".")
        if not dot or head not in NAMESPACES:
            raise self.error(
                f"unknown field {text!r}: use metrics.<key>, params.<key>, tags.<tag> or one of "
                + ", ".join(sorted(COLUMNS)),
                token,
            )
        key = key[1:-1] if key.startswith("`") and key.endswith("`") else key
        if not key:
            raise self.error(f"{head}. needs a key after the dot", token)
        return Field(NAMESPACES[head], key)

    def parse_literal(self) -> Literal:
        token = self.take()
        if token.kind == "number":
            return float(token.text)
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        if token.kind == "word" and token.text.lower() in ("nan", "inf", "-inf", "+inf"):
            return float(token.text)
        raise self.error(f"expected a number or a quoted text, got {token.text!r}", token)

    def parse_list(self) -> tuple[Literal, ...]:
        open_ = self.take()
        if open_.kind != "lparen":
            raise self.error('\'in\' needs a list: in ("a", "b")', open_)
        values = [self.parse_literal()]
        while (token := self.peek()) is not None and token.kind == "comma":
            self.take()
            values.append(self.parse_literal())
        close = self.peek()
        if close is None or close.kind != "rparen":
            raise self.error("missing ')' after the list", close)
        self.take()
        return tuple(values)


def parse_filter(text: str | None) -> Expr | None:
    """Parse a filter expression; ``None`` or blank means no filter.

    Raises:
        FilterSyntaxError: with the position of the offending token.
    """
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()
