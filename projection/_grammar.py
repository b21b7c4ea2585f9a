"""Text to syntax: the responseFields grammar parsed by lark (LALR, transformer inline, made once).

The parser is made from the tables saved beside the grammar when they are current (``_tables``),
else built by lark from the grammar.

``parse_syntax(text, limits)`` checks the length, then the syntax, then depth and item count left to
right, and returns the items in source order; it raises only ``ProjectionSyntaxError`` and
``ProjectionLimitError`` (lark's exceptions never leave this module); it never recurses on the text.

Text is read by ``_FastParser``: lark's own parse table, rules and terminals driven by a compact
loop that costs a few Python operations a token where lark's generic driver spends some fifty
calls. A syntax error is described from where that loop stopped, as lark describes it (the state
before the faulty token, the terminals lark's parser would take there), so that refusing text
costs no more than reading it. lark itself parses only for a grammar the loop cannot read.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any, Final, NamedTuple

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.grammar import Rule, Symbol, Terminal
from lark.lexer import BasicLexer
from lark.parsers.lalr_analysis import Shift

from . import _tables
from ._errors import ProjectionLimitError, ProjectionSyntaxError

__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_LENGTH",
    "OPTIONS",
    "Item",
    "Limits",
    "Name",
    "Selection",
    "build_parser",
    "check_depth_and_items",
    "names_in",
    "parse_syntax",
]


class Name(NamedTuple):
    """One path segment: a key, or the wildcard (``key is None``), and where it starts."""

    key: str | None
    pos: int


class Item(NamedTuple):
    """One comma-separated item: ``path(group)``, a bare ``path``, or ``-path`` when ``exclude``."""

    path: tuple[Name, ...]
    group: Selection | None
    exclude: bool


Selection = tuple[Item, ...]


# The defaults of SEMANTICS.md section 5, and the deepest nesting that may be asked for: masks nest
# one level per name, and this keeps every walk over them far from Python's recursion limit.
MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 32
MAX_ITEMS: Final = 1024
_DEPTH_CEILING: Final = 128


class Limits(NamedTuple):
    """What the parser accepts; see grammar/SEMANTICS.md, section 5."""

    max_length: int = MAX_LENGTH
    max_depth: int = MAX_DEPTH
    max_items: int = MAX_ITEMS

    def checked(self) -> Limits:
        """These limits, or ``ValueError`` if one is out of range."""
        if self.max_length < 0 or self.max_items < 0:
            raise ValueError(f"max_length and max_items must be 0 or more: {self}")
        if not 1 <= self.max_depth <= _DEPTH_CEILING:
            raise ValueError(
                f"max_depth must be between 1 and {_DEPTH_CEILING}, not {self.max_depth}"
            )
        return self


# Tuples made without the Python-level ``__new__`` of a NamedTuple: parsing is mostly this.
_new: Final = tuple.__new__

# The name a token stands for, from its text and where it starts.
_ident: Final[Callable[[tuple[str, int]], Name]] = functools.partial(_new, Name)


def _quoted(token: tuple[str, int]) -> Name:
    text, pos = token
    return _new(Name, (text[1:-1].replace("``", "`"), pos))


def _star(token: tuple[str, int]) -> Name:
    return _new(Name, (None, token[1]))


class _ToSyntax(Transformer[Token, Selection]):
    """Called by the LALR parser at each reduction, so building the syntax never recurses.

    Callbacks take their children as a list (no ``v_args`` wrapper): parsing is mostly calls, and
    two of them are ``tuple`` itself. The terminals the grammar keeps are names: lark calls the
    methods named after them with each token it shifts, the fast parser calls ``names`` with the
    token's text and start.
    """

    names: Final[dict[str, Callable[[tuple[str, int]], Name]]] = {
        "IDENT": _ident,
        "QUOTED": _quoted,
        "STAR": _star,
    }

    def IDENT(self, token: Token) -> Name:  # noqa: N802 (named after the terminal)
        return _ident((str(token), _start(token)))

    def QUOTED(self, token: Token) -> Name:  # noqa: N802
        return _quoted((str(token), _start(token)))

    def STAR(self, token: Token) -> Name:  # noqa: N802
        return _star((str(token), _start(token)))

    def start(self, children: list[Selection]) -> Selection:
        return children[0] if children else ()

    selection = staticmethod(tuple)  # of the items

    def include(self, children: list[Any]) -> Item:
        return _new(Item, (children[0], children[1] if len(children) > 1 else None, False))

    def exclude(self, children: list[tuple[Name, ...]]) -> Item:
        return _new(Item, (children[0], None, True))

    path = staticmethod(tuple)  # of the names


def _start(token: Token) -> int:
    # The lexer always records positions; lark before 1.2 also passes the tokens with which
    # ``accepts()`` probes the parser through the terminal callbacks, and those have none.
    return -1 if token.start_pos is None else token.start_pos


# How lark makes the parser; the saved tables are only for these options.
OPTIONS: Final[dict[str, Any]] = {
    "parser": "lalr",
    "lexer": "basic",  # no two terminals compete for the same text
    "propagate_positions": False,
    "maybe_placeholders": False,
}


@functools.cache
def _parser() -> Lark:
    """The parser: its saved tables loaded if they were saved from this grammar, or built."""
    text = _tables.grammar_text()
    loaded = _tables.load(text, OPTIONS)
    return build_parser(text) if loaded is None else loaded


def build_parser(text: str) -> Lark:
    """A parser for the grammar ``text``, its tables built by lark."""
    return Lark(text, transformer=_ToSyntax(), **OPTIONS)


# -- the fast parser: lark's tables, a compact loop ------------------------------------------

# The parser configurations the fast parser remembers, at most (half a kilobyte each): one is a
# whole stack of LALR states, and hostile text can make a new one at every token. Thousands of
# random expressions make two thousand; the expressions of one application, a few dozen.
_MAX_CONFIGURATIONS: Final = 2048
_END: Final = "$END"  # lark's name for the end of the input
# Configurations deeper than this are not learnt: nesting that deep is met once, not again (names
# nest 128 deep at most, some three states a level, and friendly expressions far less).
_DEEPEST: Final = 256


def _stack(configuration: _Configuration) -> list[int]:
    """The states of ``configuration``, bottom first."""
    states = []
    below: _Configuration | None = configuration
    while below is not None:
        states.append(below.state)
        below = below.below
    states.reverse()
    return states


class _Fallback(Exception):  # noqa: N818 (a signal, not an error)
    """The fast parser stops here: no action of lark's table takes the terminal."""


class _Forgotten(Exception):  # noqa: N818 (a signal, not an error)
    """The fast parser learns no more configurations for this text: it reads the rest plainly."""


class _Fault(NamedTuple):
    """A syntax error the fast parser met: where, what it found, what lark's parser would take."""

    pos: int
    found: str
    terminals: frozenset[str]


class _Configuration(dict[str | None, "_Learnt"]):
    """One stack of LALR states, and what each terminal does to it, learnt on first use.

    ``self[terminal]`` is the configuration after that terminal is shifted, with the step that
    reduces the values on the way (None if there are none to reduce and none to push). A stack is
    its top ``state`` over the configuration ``below``: equal stacks are one object.
    """

    __slots__ = ("above", "below", "depth", "learn", "state")

    def __init__(
        self,
        state: int,
        below: _Configuration | None,
        depth: int,
        learn: Callable[[_Configuration, str | None], _Learnt],
    ) -> None:
        super().__init__()
        self.state = state
        self.below = below
        self.depth = depth  # the states below ``state``
        self.learn = learn
        self.above: dict[int, _Configuration] = {}

    def __missing__(self, terminal: str | None) -> _Learnt:
        return self.learn(self, terminal)


# What a terminal does to a configuration: the one it leads to (None: the parse is over) and the
# step that does to the values what the rules reduced on the way do (None: nothing to do).
_Learnt = tuple[_Configuration | None, Any]


class _Recipe(NamedTuple):
    """What reducing one rule does to the values, read off the rule as lark's tree builder does.

    A rule's values are those of its symbols but the tokens lark filters out. The values of a rule
    whose name starts with "_" are spliced into its parent's: held as a list (``bag``), or alone
    (``single``) when every rule of that name has one value of its own. Other rules call the
    transformer's method with their values.
    """

    bags: tuple[bool, ...]  # for each value, whether it is a list to splice
    tokens: tuple[str | None, ...]  # for each value, the terminal of a token, still a match
    handler: Callable[[list[Any]], Any] | None  # None for a spliced rule
    single: bool


class _FastParser:
    """The LALR parser of ``parser`` (lark's tables, rules, terminals and transformer), read with a
    compact loop.

    Tokens come from one regular expression made from lark's terminals, in its lexer's order. Each
    configuration (stack of states) learns, the first time a terminal meets it, the configuration it
    leads to and a step compiled from the rules it reduces on the way, so that reading a token is
    one dictionary lookup and at most one call. Past what it keeps (stacks deeper than
    ``_DEEPEST``, more configurations than ``_MAX_CONFIGURATIONS``), it follows lark's actions
    on a plain stack of states. ``parse`` returns a ``_Fault`` for text with a syntax error (an
    unknown character, a token that no action takes).
    """

    def __init__(self, parser: Lark) -> None:
        lexer = parser.parser.lexer
        assert isinstance(lexer, BasicLexer)
        # The alternatives in lark's order, then any character: where lark finds no terminal.
        pattern = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in lexer.terminals)
        self.finditer = lexer.re.compile(f"{pattern}|(?s:.)", lexer.g_regex_flags).finditer
        self.ignore = frozenset(lexer.ignore_types)
        lalr = parser.parser.parser.parser
        table = lalr.parse_table
        self.states: dict[int, dict[str, tuple[Any, Any]]] = table.states
        (start,) = parser.options.start
        self.start_state: int = table.start_states[start]
        self.end_state: int = table.end_states[start]
        transformer = parser.options.transformer
        assert isinstance(transformer, _ToSyntax)
        self.names: dict[str, Callable[[tuple[str, int]], Any]] = transformer.names
        self.recipes = _recipes(parser.rules, transformer)
        self.kept = {
            symbol.name
            for rule in parser.rules
            for symbol in rule.expansion
            if symbol.is_term and not _filtered(symbol)
        }
        self.steps: dict[tuple[tuple[Rule, ...], str | None], Any] = {}
        # For the plain stack: how many top states the walks from a top state look at, and the
        # walks by those states: (states popped, states pushed, step).
        self.widths: dict[tuple[int, str | None], int] = {}
        self.walks: dict[tuple[tuple[int, ...], str | None], tuple[int, tuple[int, ...], Any]] = {}
        self.code: dict[str, CodeType] = {}  # the steps' code by source: many share one
        self.configurations = 0
        self.root = self.configuration(None, self.start_state)

    def parse(self, text: str) -> Any:
        """The transformer's value for ``text``, or its ``_Fault``."""
        configuration: Any = self.root
        values: list[Any] = []
        match = None
        matches = self.finditer(text)
        try:
            for match in matches:
                configuration, step = configuration[match.lastgroup]
                if step is not None:
                    step(values, match)
            match = None
            _, step = configuration[_END]
        except _Fallback:
            # ``configuration`` is still the one before the faulty token (or the end).
            return self.fault(text, _stack(configuration), match)
        except _Forgotten:
            # Past what it keeps (nesting deeper than it learns, or more configurations than
            # it remembers): the rest is read on a plain stack of states, learning nothing.
            pending = matches if match is None else itertools.chain((match,), matches)
            return self.parse_plainly(text, _stack(configuration), values, pending)
        return step(values, None)

    def parse_plainly(
        self, text: str, stack: list[int], values: list[Any], matches: Iterator[Any]
    ) -> Any:
        """``parse`` from ``stack`` on, for the ``matches`` left: lark's actions followed token
        by token, each step still compiled once."""
        match = None
        try:
            for match in matches:
                terminal = match.lastgroup
                if terminal in self.ignore:
                    continue
                step = self.advance(stack, terminal)
                if step is not None:
                    step(values, match)
            match = None
            step = self.advance(stack, _END)
        except _Fallback:
            return self.fault(text, stack, match)
        return step(values, None)

    def fault(self, text: str, stack: list[int], match: Any) -> _Fault:
        """The syntax error at ``match`` (None: the end of ``text``), met with ``stack``, as lark
        reports it: an unknown character, an unexpected token or the end."""
        if match is None:
            pos, found = len(text), "unexpected end of the expression"
        elif match.lastgroup is None:
            pos = match.start()
            found = _unknown(text, pos)
        else:
            pos, found = match.start(), f"unexpected {_spelt(match.lastgroup, match.group())}"
        terminals = frozenset(
            terminal
            for terminal in self.states[stack[-1]]
            if terminal.isupper() and self.takes(stack, terminal)
        )
        return _Fault(pos, found, terminals)

    def takes(self, stack: list[int], terminal: str) -> bool:
        """Whether lark's parser with ``stack`` takes ``terminal``: shifts it, after the
        reductions it calls for, or at the end reduces to the end state, as lark's
        ``InteractiveParser.accepts`` finds out."""
        try:
            self.walk(stack, terminal)
        except _Fallback:
            return False
        return True

    def advance(self, stack: list[int], terminal: str | None) -> Any:
        """``stack`` after ``terminal``, changed in place, and the step for the values.

        A walk depends only on the states it looks at, the top ones: remembered by those (as
        many as the widest walk from the same top state looked at), it is looked up after.
        """
        top = (stack[-1], terminal)
        width = self.widths.get(top)
        if width is not None:
            found = self.walks.get((tuple(stack[-width:]), terminal))
            if found is not None:
                popped, pushed, step = found
                del stack[len(stack) - popped :]
                stack.extend(pushed)
                return step
        reduced, kept, grown = self.walk(stack, terminal)
        step = self.step(reduced, terminal)
        width = max(len(stack) - kept + 1, width or 0)
        if len(self.walks) >= _MAX_CONFIGURATIONS:
            self.walks.clear()  # bounded, as the configurations are
        self.widths[top] = width
        self.walks[tuple(stack[-width:]), terminal] = (len(stack) - kept, tuple(grown), step)
        del stack[kept:]
        stack.extend(grown)
        return step

    def walk(
        self, stack: list[int], terminal: str | None
    ) -> tuple[tuple[Rule, ...], int, list[int]]:
        """lark's actions for ``terminal`` on ``stack``, followed until it shifts (or accepts, at
        the end): the rules reduced, how much of ``stack`` stays, the states pushed on it.

        ``stack`` itself is left as it is: the walk costs what it reduces, not the depth.
        """
        reduced: list[Rule] = []
        kept = len(stack)
        pushed: list[int] = []
        while True:
            top = pushed[-1] if pushed else stack[kept - 1]
            action = self.states[top].get(terminal) if terminal is not None else None
            if action is None:
                raise _Fallback  # a syntax error
            kind, argument = action
            if kind is Shift:
                if terminal == _END:
                    raise _Fallback
                pushed.append(argument)
                break
            rule: Rule = argument
            reduced.append(rule)
            popped = min(len(rule.expansion), len(pushed))
            del pushed[len(pushed) - popped :]
            kept -= len(rule.expansion) - popped
            top = pushed[-1] if pushed else stack[kept - 1]
            goto = self.states[top][rule.origin.name][1]
            pushed.append(goto)
            if terminal == _END and goto == self.end_state:
                break
        return tuple(reduced), kept, pushed

    def configuration(self, below: _Configuration | None, state: int) -> _Configuration:
        """The one configuration of ``state`` over ``below``."""
        if below is not None:
            found = below.above.get(state)
            if found is not None:
                return found
        depth = 0 if below is None else below.depth + 1
        self.configurations += 1
        if self.configurations > _MAX_CONFIGURATIONS:
            # Forget them all (the parse under way goes on plainly): memory stays bounded.
            self.configurations = 0
            self.steps, self.code = {}, {}
            self.root = self.configuration(None, self.start_state)
            raise _Forgotten
        if depth > _DEEPEST:
            raise _Forgotten  # each deeper stack would be learnt once, and met once
        made = _Configuration(state, below, depth, self.learn)
        if below is not None:
            below.above[state] = made
        return made

    def learn(self, configuration: _Configuration, terminal: str | None) -> _Learnt:
        """What ``terminal`` does to ``configuration``, remembered there."""
        learnt = (
            (configuration, None)
            if terminal in self.ignore
            else self.follow(configuration, terminal)
        )
        configuration[terminal] = learnt
        return learnt

    def follow(self, configuration: _Configuration, terminal: str | None) -> _Learnt:
        """The configuration ``terminal`` leads to from ``configuration`` (None: the parse is
        over), and the step that does to the values what the rules reduced on the way do."""
        stack = _stack(configuration)
        reduced, kept, pushed = self.walk(stack, terminal)
        step = self.step(reduced, terminal)
        if terminal == _END:
            return None, step
        after = configuration
        for _ in range(len(stack) - kept):
            assert after.below is not None
            after = after.below
        for state in pushed:
            after = self.configuration(after, state)
        return after, step

    def step(self, reduced: tuple[Rule, ...], terminal: str | None) -> Any:
        """The step for ``reduced`` then ``terminal``, compiled once."""
        key = (reduced, terminal)
        step = self.steps.get(key)
        if step is None:
            self.steps[key] = step = self.compile(*key)
        return step

    def compile(self, reduced: tuple[Rule, ...], terminal: str | None) -> Any:
        """A function of the values and the match that reduces ``reduced`` and pushes the match
        of the token shifted if the grammar keeps it; at the end of the input, it returns the last
        value instead. None if there is nothing to do, ``list.append`` if only the push.

        A kept token stays a match on the values until a rule takes it: it becomes its value
        there, so that shifting it costs no call.
        """
        if not reduced:
            return list.append if terminal in self.kept else None
        step = _Step(self.names)
        for number, rule in enumerate(reduced):
            step.reduce(number, self.recipes[rule])
        if terminal == _END:
            step.give_last()
        else:
            step.push(kept=terminal in self.kept)
        source = step.source()
        code = self.code.get(source)
        if code is None:
            self.code[source] = code = compile(source, "<projection step>", "exec")
        exec(code, step.namespace)  # defines the step, in a namespace of its own
        return step.namespace["step"]


class _Step:
    """The source of one step, written line by line: a function of the values (lark's stack) and
    the match of the token shifted, which it runs as the rules reduced do."""

    def __init__(self, names: dict[str, Callable[[tuple[str, int]], Any]]) -> None:
        self.names = names  # the value of each terminal's token, by its name
        self.namespace: dict[str, Any] = {}
        self.lines: list[str] = []
        self.top: list[str] = []  # locals holding the topmost values, the deepest first

    def fresh(self, value: str) -> str:
        """A new local holding ``value``."""
        name = f"v{len(self.lines)}"
        self.lines.append(f"{name} = {value}")
        return name

    def take(self, count: int, tokens: tuple[str | None, ...]) -> list[str]:
        """The top ``count`` values as locals, off the stack, tokens made values."""
        top = self.top
        while len(top) < count:
            top.insert(0, self.fresh("values.pop()"))
        taken = top[len(top) - count :]
        del top[len(top) - count :]
        for index, terminal in enumerate(tokens):
            if terminal is not None:
                self.namespace[f"t_{terminal}"] = self.names[terminal]
                match = taken[index]
                taken[index] = self.fresh(f"t_{terminal}(({match}[0], {match}.start()))")
        return taken

    def reduce(self, number: int, recipe: _Recipe) -> None:
        """Reduce the ``number``-th rule of the step, as ``recipe`` says."""
        count = len(recipe.bags)
        if recipe.handler is None and recipe.single:
            self.top.extend(self.take(1, recipe.tokens))  # one value, spliced as it is
        elif recipe.handler is None and count and recipe.bags[0] and not any(recipe.bags[1:]):
            # Left recursion: the list grows in place, as in lark's tree builder.
            rest = self.take(count - 1, recipe.tokens[1:])
            bag = self.top[-1] if self.top else "values[-1]"
            if len(rest) == 1:
                self.lines.append(f"{bag}.append({rest[0]})")
            elif rest:
                self.lines.append(f"{bag}.extend(({', '.join(rest)},))")
        else:
            taken = self.take(count, recipe.tokens)
            spliced = [
                f"*{name}" if bag else name for name, bag in zip(taken, recipe.bags, strict=True)
            ]
            value = f"[{', '.join(spliced)}]"
            if recipe.handler is not None:
                self.namespace[f"h{number}"] = recipe.handler
                value = f"h{number}({value})"
            self.top.append(self.fresh(value))

    def give_last(self) -> None:
        """End the step at the end of the input: it returns the last value."""
        self.lines.append(f"return {self.top[-1] if self.top else 'values[-1]'}")

    def push(self, *, kept: bool) -> None:
        """End the step: the values left on top go back on the stack, then the match if ``kept``."""
        top, lines = self.top, self.lines
        if kept:
            top.append("match")
        # The last value taken off the stack and the first put back share their place.
        pops = [index for index, line in enumerate(lines) if line.endswith("values.pop()")]
        if top and pops and not any("values[" in line for line in lines[pops[-1] :]):
            lines[pops[-1]] = lines[pops[-1]].replace("values.pop()", "values[-1]")
            lines.append(f"values[-1] = {top.pop(0)}")
        if len(top) == 1:
            lines.append(f"values.append({top[0]})")
        elif top:
            lines.append(f"values.extend(({', '.join(top)},))")

    def source(self) -> str:
        return "def step(values, match):\n" + "".join(f"    {line}\n" for line in self.lines)


def _filtered(symbol: Symbol) -> bool:
    """Whether lark's tree builder leaves this symbol's token out of its rule's children."""
    return isinstance(symbol, Terminal) and symbol.filter_out


def _recipes(rules: list[Rule], transformer: Any) -> dict[Rule, _Recipe]:
    """How each rule reduces its values (see ``_Recipe``)."""

    def values(rule: Rule) -> list[Symbol]:
        return [symbol for symbol in rule.expansion if not _filtered(symbol)]

    spliced = {rule.origin.name for rule in rules if rule.origin.name.startswith("_")}
    # A spliced name is single when each of its rules has one value, itself not a spliced list.
    single: set[str] = set()
    grown = True
    while grown:
        grown = False
        for name in spliced - single:
            if all(
                len(found := values(rule)) == 1
                and (found[0].is_term or found[0].name not in spliced or found[0].name in single)
                for rule in rules
                if rule.origin.name == name
            ):
                single.add(name)
                grown = True
    recipes = {}
    for rule in rules:
        name = rule.origin.name
        bags = tuple(
            not symbol.is_term and symbol.name in spliced and symbol.name not in single
            for symbol in values(rule)
        )
        handler = None
        if name not in spliced:
            handler = getattr(transformer, rule.alias or rule.options.template_source or name)
        tokens = tuple(symbol.name if symbol.is_term else None for symbol in values(rule))
        recipes[rule] = _Recipe(bags, tokens, handler, name in single)
    return recipes


@functools.cache
def _fast_parser(parser: Lark) -> _FastParser | None:
    """The fast parser for ``parser``, or None where it could not read as lark does."""
    if not _readable(parser):
        return None
    return _FastParser(parser)


def _readable(parser: Lark) -> bool:
    """Whether ``parser`` is one whose reading the fast parser reproduces exactly.

    A basic lexer whose terminals are matched as they are (no terminal folded into another by a
    callback), no post-lexer; rules that lark's tree builder only filters and splices (no ``?``
    or ``!`` rule); a transformer with a plain method for each rule not spliced, none for those
    spliced, and a value for each terminal kept.
    """
    lexer = parser.parser.lexer
    options = parser.options
    if not isinstance(lexer, BasicLexer) or options.postlex is not None or options.use_bytes:
        return False
    scanner = lexer.scanner  # built: lark decides here which terminals a callback retypes
    if lexer.callback or [t.name for t in scanner.terminals] != [t.name for t in lexer.terminals]:
        return False
    transformer = options.transformer
    if not isinstance(transformer, _ToSyntax) or options.maybe_placeholders:
        return False
    if len(options.start) != 1 or options.propagate_positions:
        return False
    kept: set[str] = set()
    for rule in parser.rules:
        if rule.options.keep_all_tokens or rule.options.expand1:
            return False
        kept |= {s.name for s in rule.expansion if s.is_term and not _filtered(s)}
        name = rule.alias or rule.options.template_source or rule.origin.name
        method = getattr(transformer, name, None)
        if rule.origin.name.startswith("_"):  # spliced: lark builds a tree only to unpack it
            if method is not None:
                return False
        elif method is None or getattr(method, "visit_wrapper", None) is not None:
            return False
    filtered = {s.name for r in parser.rules for s in r.expansion if _filtered(s)}
    if kept & filtered:
        return False
    return all(
        name in transformer.names and callable(getattr(transformer, name, None)) for name in kept
    )


# How the terminals of the grammar are called in error messages.
_READABLE = {
    "IDENT": "a name",
    "QUOTED": "a name",
    "STAR": "'*'",
    "_COMMA": "','",
    "_MINUS": "'-'",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_SLASH": "'/'",
    "$END": "the end of the expression",
}
_ORDER = ("a name", "'*'", "'-'", "'('", "'/'", "','", "')'", "the end of the expression")


def parse_syntax(text: str, limits: Limits) -> Selection:
    """The items of ``text``; raises ``ProjectionSyntaxError`` or ``ProjectionLimitError``."""
    if len(text) > limits.max_length:
        raise ProjectionLimitError(
            f"the expression is longer than {limits.max_length} characters",
            text,
            limits.max_length,
        )
    parser = _parser()
    fast = _fast_parser(parser)
    read = None if fast is None else fast.parse(text)
    if isinstance(read, _Fault):
        raise _syntax_error(text, read)
    selection: Selection | None = read
    if selection is None:  # a grammar the fast parser cannot read: lark parses
        failure = None
        try:
            selection = parser.parse(text)  # type: ignore[assignment]
        except UnexpectedInput as error:
            failure = _syntax_error(text, _lark_fault(text, error))
        # Raised out of the handler, so that lark's error is not its context: pickling that
        # holds on to contexts (distributed installs one, for errors that cross to a Dask
        # client) would try to carry lark's parser along, and fail.
        if failure is not None:
            raise failure
    assert selection is not None
    check_depth_and_items(text, selection, limits)
    return selection


def _syntax_error(text: str, fault: _Fault) -> ProjectionSyntaxError:
    words = {_READABLE[terminal] for terminal in fault.terminals}
    expected = tuple(word for word in _ORDER if word in words)
    message = f"{fault.found} at column {fault.pos + 1}"
    if expected:
        message += f": expected {_or_list(expected)}"
    return ProjectionSyntaxError(message, text, fault.pos, expected)


def _lark_fault(text: str, error: UnexpectedInput) -> _Fault:
    """lark's syntax error, as the fast parser reports its own."""
    if isinstance(error, UnexpectedCharacters):
        assert error.pos_in_stream is not None  # the lexer always says where it stopped
        pos = error.pos_in_stream
        found = _unknown(text, pos)
    elif isinstance(error, UnexpectedToken) and error.token.type != _END:
        pos = _start(error.token)
        found = f"unexpected {_spelt(error.token.type, str(error.token))}"
    else:
        pos, found = len(text), "unexpected end of the expression"
    return _Fault(pos, found, _expected_at(text, pos))


def _expected_at(text: str, pos: int) -> frozenset[str]:
    """The terminals that could stand at ``pos``, read off the parser state just before the
    faulty token.

    The state in the error itself can be wrong: LALR may already have reduced on the faulty
    lookahead (``a(b`` then the end reduces the group, leaving only ``)`` acceptable).
    """
    replay = _parser().parse_interactive(text)
    try:
        for token in replay.iter_parse():
            if _start(token) >= pos:
                break
    except UnexpectedInput:
        pass
    return frozenset(replay.accepts())  # type: ignore[no-untyped-call]


def _unknown(text: str, pos: int) -> str:
    """What is found at ``pos``, where no terminal starts."""
    # Every character starts some token except a backtick that no closing backtick matches.
    return "unterminated quoted name" if text[pos] == "`" else f"unexpected {text[pos]!r}"


def _spelt(terminal: str, value: str) -> str:
    """A token of ``terminal`` spelt ``value``, as an error message names it."""
    if terminal in ("IDENT", "QUOTED"):
        return f"name {value!r}"
    return repr(value)


def _or_list(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def check_depth_and_items(text: str, selection: Selection, limits: Limits) -> None:
    """Raise at the first name, left to right, that is nested too deep or one name too many."""
    # Names are not empty and two of them have a character between them (SEMANTICS.md section 1):
    # a short text has too few names to cross either limit.
    if (len(text) + 1) // 2 <= min(limits.max_depth, limits.max_items):
        return
    if _within(selection, limits):
        return
    count = 0
    # Each frame: the items of one group level, the next one to visit, and the group's depth.
    stack: list[tuple[Selection, int, int]] = [(selection, 0, 0)]
    while stack:
        items, index, base = stack.pop()
        if index == len(items):
            continue
        item = items[index]
        stack.append((items, index + 1, base))
        for offset, name in enumerate(item.path, start=1):
            count += 1
            if base + offset > limits.max_depth:
                raise ProjectionLimitError(
                    f"names are nested deeper than {limits.max_depth} levels",
                    text,
                    name.pos,
                )
            if count > limits.max_items:
                raise ProjectionLimitError(
                    f"the expression names more than {limits.max_items} fields", text, name.pos
                )
        if item.group is not None:
            stack.append((item.group, 0, base + len(item.path)))


def names_in(selection: Selection) -> int:
    """How many names ``selection`` holds, every occurrence counted: what ``max_items`` bounds."""
    count = 0
    groups = [selection]
    while groups:
        for path, group, _ in groups.pop():
            count += len(path)
            if group is not None:
                groups.append(group)
    return count


def _within(selection: Selection, limits: Limits) -> bool:
    """Whether no name of ``selection`` crosses the limits: one quick pass, in any order."""
    count = 0
    max_depth = limits.max_depth
    groups: list[tuple[Selection, int]] = [(selection, 0)]
    while groups:
        items, base = groups.pop()
        for path, group, _ in items:
            count += len(path)
            depth = base + len(path)
            if depth > max_depth:
                return False
            if group is not None:
                groups.append((group, depth))
    return count <= limits.max_items
