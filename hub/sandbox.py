"""The sandboxed Jinja environment templates render in, with its limits on time, size and reach.

Jinja's sandbox keeps templates away from Python internals; these limits keep a template from exhausting a
worker: every ``{% for %}`` and every call checks a per-recipient clock (nested ``range(99999)`` loops, recursive
macros), and what could build a huge string or number in one step is refused (``*``, ``**``, ``%`` and format
widths, ``~``, ``join``, ``replace`` and the padding filters and methods).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "CONDITIONS",
    "ENV",
    "MAX_BUILT_ITEMS",
    "MAX_FORMAT_WIDTH",
    "MAX_POWER_BITS",
    "RENDER_TIME_LIMIT_S",
    "RenderTimeout",
    "check_clock",
    "guard_loops",
    "time_limit",
]

#: Largest string or list a template may build in one step (items or characters); far above any real message.
MAX_BUILT_ITEMS = 100_000
#: Largest integer a template may build with ``**``, in bits.
MAX_POWER_BITS = 4096
#: Widest padding a format string may ask for (``'%9999999d'`` or ``'{:>9999999}'`` only exhaust memory).
MAX_FORMAT_WIDTH = 9999
#: Seconds one recipient's message may take to render (every template of it); loops and calls check it.
RENDER_TIME_LIMIT_S = 1.0
#: Loop items between two looks at the clock (a look costs more than an item).
_CLOCK_EVERY = 256
_LOOP_GUARD = "hub_loop_guard"
_HUGE_PERCENT_WIDTH = re.compile(r"%[-+ #0]*(?:\d{5,}|\d*\.\d{5,})")
_HUGE_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*\d{5,}[^{}]*\}")
#: ``str`` methods that pad to a width given as their first argument.
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class RenderTimeout(Exception):
    """A render ran past :data:`RENDER_TIME_LIMIT_S` (raised inside Jinja; reported as a ``RenderError``)."""


#: When the render under way must stop, in this thread's CPU seconds (``time.thread_time()``): None until its first
#: loop or call (a template without either cannot run away, and then never looks at a clock); no limit outside
#: :func:`time_limit`. CPU time, not wall time: a busy machine or another thread must not fail a render.
_deadline: ContextVar[float | None] = ContextVar("hub_render_deadline", default=float("inf"))


class time_limit:  # lower case: read as a function, `with time_limit():`
    """Renders inside share one budget of :data:`RENDER_TIME_LIMIT_S` CPU seconds (one recipient's message).

    A class rather than ``contextlib.contextmanager``: it is entered once per recipient on the fan-out's hot path.
    """

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _deadline.set(None)

    def __exit__(self, *exc: object) -> None:
        _deadline.reset(self._token)


def check_clock() -> None:
    """Raise :class:`RenderTimeout` once the render under way has used its CPU budget (its first look starts it)."""
    deadline = _deadline.get()
    if deadline == float("inf"):
        return
    now = time.thread_time()
    if deadline is None:
        _deadline.set(now + RENDER_TIME_LIMIT_S)
    elif now > deadline:
        raise RenderTimeout(f"rendering used more than {RENDER_TIME_LIMIT_S:g} s of CPU")


def guard_loops(tree: nodes.Template) -> None:
    """Make every ``{% for %}`` of a parsed template iterate through the clock check."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_GUARD, [], [], None, None, lineno=loop.lineno)


def _loop_guard(items: Iterable[Any]) -> Iterator[Any]:
    for count, item in enumerate(items):
        if count % _CLOCK_EVERY == 0:
            check_clock()
        yield item


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} would build more than {MAX_BUILT_ITEMS} characters; not allowed")


def _check_format(fmt: Any, pattern: re.Pattern[str]) -> None:
    if isinstance(fmt, str) and pattern.search(fmt):
        raise SecurityError(f"a format width over {MAX_FORMAT_WIDTH} is not allowed")


def _check_power(base: Any, exponent: Any) -> None:
    big = isinstance(base, int) and isinstance(exponent, int) and max(base.bit_length(), 1) * exponent > MAX_POWER_BITS
    if big:
        raise SecurityError(f"{base} ** {exponent} is larger than {MAX_POWER_BITS} bits")


def _check_repeat(seq: Any, times: Any) -> None:
    if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_BUILT_ITEMS:
        raise SecurityError(f"repeating a sequence to more than {MAX_BUILT_ITEMS} items is not allowed")


def _joined(items: Iterable[Any], separator: str) -> list[str]:
    """``items`` as strings, refused before joining when the result would pass :data:`MAX_BUILT_ITEMS`."""
    texts = [str(item) for item in items]
    if sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0) > MAX_BUILT_ITEMS:
        raise _too_big("join")
    return texts


def _check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_BUILT_ITEMS:
        raise _too_big("replace")


class _Generator(CodeGenerator):
    """Compiles ``a ~ b`` to :meth:`_Sandbox.concat` (Jinja's own join has no size check): a string doubled in a
    loop would otherwise fill memory in a few dozen steps."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, plus the limits of this module."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "%"})

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_clock()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):  # a str method: the ones that can build a huge string in one call
            name = getattr(__obj, "__name__", "")
            if name == "join" and args:
                args = (_joined(args[0], owner), *args[1:])
            elif name == "replace":
                _check_replace(owner, *args[:3])
            elif name in _PADDING_METHODS and args and isinstance(args[0], int) and args[0] > MAX_FORMAT_WIDTH:
                raise SecurityError(f"a {name} width over {MAX_FORMAT_WIDTH} is not allowed")
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator == "%":
            _check_format(left, _HUGE_PERCENT_WIDTH)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        _check_format(value.__self__, _HUGE_BRACE_WIDTH)
        return wrapper

    def concat(self, parts: Iterable[Any]) -> str:
        """``a ~ b ~ ...`` with the size check of ``join``."""
        return "".join(_joined(parts, ""))


# One environment for every campaign: it holds no per-campaign state, and building one is not free.
# trim_blocks/lstrip_blocks: a `{% for %}` on its own line leaves no blank line in a WhatsApp text.
ENV = _Sandbox(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def _guard_width(name: str, position: int) -> None:
    # Filters that pad to a width (``'x'|center(10**9)``) bypass the operator checks above.
    original = ENV.filters[name]

    def guarded(*args: Any, **kwargs: Any) -> Any:
        width = kwargs.get("width", args[position] if len(args) > position else 0)
        if isinstance(width, int) and width > MAX_FORMAT_WIDTH:
            raise SecurityError(f"a {name} width over {MAX_FORMAT_WIDTH} is not allowed")
        return original(*args, **kwargs)

    ENV.filters[name] = guarded


for _name, _position in (("center", 1), ("indent", 1), ("wordwrap", 2)):
    _guard_width(_name, _position)
_FORMAT = ENV.filters["format"]
_JOIN = ENV.filters["join"]
_REPLACE = ENV.filters["replace"]


def _guarded_format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_format(value, _HUGE_PERCENT_WIDTH)
    return str(_FORMAT(value, *args, **kwargs))


def _guarded_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    if attribute is None:
        value = _joined(value, str(d))
    return str(_JOIN(eval_ctx, value, d, attribute))


def _guarded_replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
    _check_replace(str(s), str(old), str(new), count)
    return str(_REPLACE(eval_ctx, s, old, new, count))


_guarded_join.jinja_pass_arg = _JOIN.jinja_pass_arg  # type: ignore[attr-defined]  # eval_ctx, as Jinja's own
_guarded_replace.jinja_pass_arg = _REPLACE.jinja_pass_arg  # type: ignore[attr-defined]
ENV.filters["format"] = _guarded_format
ENV.filters["join"] = _guarded_join
ENV.filters["replace"] = _guarded_replace
ENV.filters[_LOOP_GUARD] = _loop_guard
#: For journey conditions: the same sandbox, where a missing name is falsy instead of an error.
CONDITIONS = ENV.overlay(undefined=Undefined)
