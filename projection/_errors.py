"""Every exception the library raises on bad input.

    ProjectionError                   base of everything below
    ├── ExpressionError               the expression is rejected: ``expression``, ``pos``
    │   ├── ProjectionSyntaxError     not a responseFields expression: adds ``expected``
    │   ├── ProjectionLimitError      longer, deeper or wider than the parser was told to allow
    │   └── UnknownFieldError         strict schema mode: a name the schema does not have
    ├── PayloadError                  the JSON payload is invalid: ``pos``, ``line``, ``index``
    └── OpenAPIError                  an OpenAPI document is unusable (also a ``ValueError``)
        └── OpenAPILookupError        it has no such schema or route: ``name``, ``suggestions``
                                      (also a ``LookupError``)

Misuse of the API (a non-``str`` expression, mixing case-sensitive and case-insensitive projections)
raises the ordinary ``TypeError`` and ``ValueError``.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = [
    "ExpressionError",
    "OpenAPIError",
    "OpenAPILookupError",
    "PayloadError",
    "ProjectionError",
    "ProjectionLimitError",
    "ProjectionSyntaxError",
    "UnknownFieldError",
    "detached",
]

# Long expressions are shown as a window around the fault, so the caret stays on screen.
_EXCERPT_WIDTH = 72


class ProjectionError(Exception):
    """Base class of every error the library raises on bad input."""


class ExpressionError(ProjectionError):
    """The expression was rejected; ``pos`` is the 0-based index of the fault in ``expression``.

    ``str(error)`` is the message, then the expression (or a window of it) with a caret under the
    fault.
    """

    expression: str
    pos: int
    message: str

    def __init__(self, message: str, expression: str, pos: int, *details: object) -> None:
        self.message = message
        self.expression = expression
        self.pos = pos
        # Every argument in ``args``: pickling rebuilds the error from them (worker processes).
        super().__init__(message, expression, pos, *details)

    @property
    def column(self) -> int:
        """The 1-based column of the fault: ``pos + 1``."""
        return self.pos + 1

    def __str__(self) -> str:
        excerpt, caret = _excerpt(self.expression, self.pos)
        return f"{self.message}\n  {excerpt}\n  {' ' * caret}^"


class ProjectionSyntaxError(ExpressionError):
    """The text is not a responseFields expression.

    ``expected`` lists what could have stood at ``pos``, in readable words: ``"a name"``, ``"')'"``.
    """

    expected: tuple[str, ...]

    def __init__(
        self, message: str, expression: str, pos: int, expected: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, expression, pos, expected)
        self.expected = expected


class ProjectionLimitError(ExpressionError):
    """The expression is longer, nested deeper or names more fields than the parser allows."""


class UnknownFieldError(ExpressionError):
    """Strict schema mode: the expression names a field the schema does not have.

    ``path`` is the dotted path of the unknown name; ``suggestion`` the closest field, if any.
    """

    path: str
    suggestion: str | None

    def __init__(
        self, message: str, expression: str, pos: int, path: str, suggestion: str | None
    ) -> None:
        super().__init__(message, expression, pos, path, suggestion)
        self.path = path
        self.suggestion = suggestion


class PayloadError(ProjectionError):
    """The JSON payload is not valid JSON, or nests deeper than the decoder allows.

    ``pos`` is the byte offset of the fault inside the document (``None`` when the decoder does not
    say); ``line`` the 1-based line of an NDJSON stream; ``index`` the 0-based position of the
    document in bulk input. The message repeats all of them.
    """

    pos: int | None
    line: int | None
    index: int | None

    def __init__(
        self,
        message: str,
        *,
        pos: int | None = None,
        line: int | None = None,
        index: int | None = None,
    ) -> None:
        self.pos = pos
        self.line = line
        self.index = index
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries in bulk runs; keep the keyword attributes.
        return (_restore_payload_error, (str(self), self.pos, self.line, self.index))


def _restore_payload_error(
    message: str, pos: int | None, line: int | None, index: int | None
) -> PayloadError:
    """The ``PayloadError`` that ``__reduce__`` described, made again where it is unpickled."""
    return PayloadError(message, pos=pos, line=line, index=index)


class OpenAPIError(ProjectionError, ValueError):
    """An OpenAPI document cannot be used: it is not OpenAPI 3.x, not JSON (or YAML), a ``$ref``
    points nowhere, or a schema nests deeper than the builder allows."""


class OpenAPILookupError(OpenAPIError, LookupError):
    """The document has no schema or route by that name.

    ``name`` is what was asked for; ``suggestions`` the closest names the document has, best first
    (the message repeats them).
    """

    name: str
    suggestions: tuple[str, ...]

    def __init__(self, message: str, name: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message, name, suggestions)
        self.name = name
        self.suggestions = suggestions

    def __str__(self) -> str:
        return str(self.args[0])


_Error = TypeVar("_Error", bound=BaseException)


def detached(error: _Error) -> _Error:
    """``error``, caught, made fit to be kept: rid of its traceback and of the exceptions it was
    raised from or while handling (which hold tracebacks of their own); its message stays.

    Through its traceback a caught error holds the frames it went through, and they hold what
    holds the error (the list of a block's rejected lines) and the block's data: a cycle, which
    only the cyclic collector frees. A run pauses the collector for each block, which then runs
    too seldom to keep up: kept as they were caught, 400,000 rejected lines of 100 bytes held
    520 MB at the end of the run, measured; detached, they are freed with their block.
    """
    error.__traceback__ = None
    error.__context__ = None
    error.__cause__ = None
    return error


def _excerpt(expression: str, pos: int) -> tuple[str, int]:
    """One display line of ``expression`` around ``pos`` and the caret's offset within it."""
    # White space other than the space would shift the caret, so it is shown as spaces.
    flat = expression.translate({9: " ", 10: " ", 13: " "})
    if len(flat) <= _EXCERPT_WIDTH:
        return flat, pos
    start = max(0, min(pos - _EXCERPT_WIDTH // 2, len(flat) - _EXCERPT_WIDTH))
    end = start + _EXCERPT_WIDTH
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(flat) else ""
    return f"{prefix}{flat[start:end]}{suffix}", len(prefix) + pos - start
