"""Compile a message once, render it per recipient: the one renderer for dry runs, fan-out and the API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec
from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import new_context

from hub.campaigns.spec import MessageSpec
from hub.config import Settings
from hub.errors import CampaignError, RenderError
from hub.sandbox import CONDITIONS, ENV, RenderTimeout, guard_loops, time_limit
from hub.twilio_rules import request_refusal

#: Twilio's cap on ``Body``, in characters.
MAX_BODY_CHARS = 1600
#: Characters one template may produce before rendering stops: a runaway loop must not fill memory first.
MAX_OUTPUT_CHARS = 10 * MAX_BODY_CHARS
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


class OutboundMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message exactly as it will be handed to the transport.

    ``to`` is E.164 without ``whatsapp:``. Exactly one of ``body`` / ``content_sid`` is set.
    """

    to: str
    body: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    media_url: list[str] = []
    #: Seconds Twilio may hold it before sending (``ValidityPeriod``, from the run's expiry); None: Twilio's default.
    validity_period_s: int | None = None


class Attributes:
    """Data from outside the campaign (an event's data, a contact's attributes), read by key.

    ``event.items`` is the event's ``items`` field, not a dict method: attributes are the keys, and nothing else.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Attributes({self._data!r})"


class RecipientLike(Protocol):
    """What rendering needs from a recipient (``hub.audience.Recipient`` has it)."""

    @property
    def phone(self) -> str: ...  # E.164

    @property
    def vars(self) -> Mapping[str, Any]: ...

    @property
    def source(self) -> str: ...  # where it came from, e.g. ``audiences/x.csv:12``


class CompiledMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message with every template compiled once, ready to render for many recipients.

    Attributes:
        name: the campaign name (the ``campaign`` template variable).
        source: the file it came from, for error messages.
        body: the compiled body (inline or from ``template``), or None for a ``content_sid`` message.
        content_sid: the approved WhatsApp template's SID, or None.
        content_variables: ``(key, compiled value)`` pairs in declaration order.
        media_url: ``(field, compiled url)`` pairs.
        base_vars: Jinja globals + campaign ``vars``, merged once.
        recipient_variables: variables the templates use unconditionally that neither the campaign ``vars`` nor
            ``phone`` / ``campaign`` provide: each recipient must bring them (``hub check`` compares a CSV header).
        names: every variable the templates read, guarded or not (``contact`` in it: read the contacts' attributes).
    """

    name: str
    source: str
    body: Template | None
    content_sid: str | None
    content_variables: tuple[tuple[str, Template], ...] | None
    media_url: tuple[tuple[str, Template], ...]
    base_vars: dict[str, Any]
    recipient_variables: frozenset[str]
    names: frozenset[str] = frozenset()


def compile_message(spec: MessageSpec, settings: Settings, *, name: str, source: str = "") -> CompiledMessage:
    """Compile every template of a message (body or ``template`` file, content variables, media URLs).

    Args:
        spec: the message part of a campaign or API request.
        settings: for ``paths.templates``.
        name: the campaign name (exposed to templates as ``campaign``).
        source: the file the spec came from, as shown in errors.

    Raises:
        CampaignError: a Jinja syntax error or a missing/unreadable template file; names the field
            (``body``, ``template``, ``content_variables.1``, ``media_url[0]``).
    """
    used: set[str] = set()
    names: set[str] = set()
    body: Template | None = None
    if spec.template is not None:
        text = _read_template(spec.template, settings.paths.templates, source)
        body = _compile(text, source, "template", used, names, display=spec.template)
    elif spec.body is not None:
        body = _compile(spec.body, source, "body", used, names)
    elif spec.content_sid is None:
        raise CampaignError(source, "", "expected one of `template`, `body` or `content_sid`")
    else:  # what Twilio would refuse is refused here, before any run or send exists
        refusal = request_refusal(content_sid=spec.content_sid, media_url=spec.media_url)
        if refusal is not None:
            raise CampaignError(source, refusal.field, refusal.message)
    content_variables = None
    if spec.content_sid is not None and spec.content_variables is not None:
        content_variables = tuple(
            (str(key), _compile(str(value), source, f"content_variables.{key}", used, names))
            for key, value in spec.content_variables.items()
        )
    media = tuple(
        (f"media_url[{i}]", _compile(url, source, f"media_url[{i}]", used, names))
        for i, url in enumerate(spec.media_url)
    )
    base_vars = {**ENV.globals, **spec.vars}
    return CompiledMessage(
        name=name,
        source=source,
        body=body,
        content_sid=spec.content_sid if body is None else None,
        content_variables=content_variables,
        media_url=media,
        base_vars=base_vars,
        recipient_variables=frozenset(used - base_vars.keys() - {"phone", "campaign"}),
        names=frozenset(names),
    )


def render_message(compiled: CompiledMessage, recipient: RecipientLike) -> OutboundMessage:
    """Render one message for one recipient, exactly as it will be sent.

    Variables: the campaign ``vars``, then the recipient's fields (which win), then ``phone`` (E.164)
    and ``campaign``, which nothing overrides. Recipient values are data, never templates:
    ``{{ 7*7 }}`` in a CSV cell stays literal.

    Raises:
        RenderError: a missing variable, a sandbox refusal, a body over 1600 characters or empty,
            an empty content variable, a media URL that is not http(s). The message names the
            recipient (phone and source) and the field.
    """
    with time_limit():
        return _render_all(compiled, recipient)


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """A recipient's variables without the empty ones: an empty CSV cell is a missing value (strict), which only a
    template ``default`` may fill, never an empty string sent to a customer."""
    return {key: value for key, value in values.items() if not _is_empty(value)}


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _render_all(compiled: CompiledMessage, recipient: RecipientLike) -> OutboundMessage:
    # One flat dict per recipient, shared by every template of the message (no copies, no deep copies).
    variables = {**compiled.base_vars, **_given(recipient.vars), "phone": recipient.phone, "campaign": compiled.name}
    body = None
    if compiled.body is not None:
        body = _render(compiled.body, variables, recipient, "body")
        if not body.strip():
            raise _error(recipient, "body", "rendered empty")
        if len(body) > MAX_BODY_CHARS:
            raise _error(recipient, "body", f"rendered to {len(body)} characters; the limit is {MAX_BODY_CHARS}")
    content_variables = None
    if compiled.content_variables is not None:
        content_variables = {}
        for key, template in compiled.content_variables:
            value = _render(template, variables, recipient, f"content_variables.{key}")
            if not value.strip():
                raise _error(recipient, f"content_variables.{key}", "rendered empty; WhatsApp refuses empty variables")
            content_variables[key] = value
    media: list[str] = []
    for field, template in compiled.media_url:
        url = _render(template, variables, recipient, field).strip()
        if not url:
            continue  # an optional image left out for this recipient
        if not url.startswith(("https://", "http://")):
            raise _error(recipient, field, f"expected an http(s) URL, got {url[:80]!r}")
        media.append(url)
    return OutboundMessage(
        to=recipient.phone,
        body=body,
        content_sid=compiled.content_sid,
        content_variables=content_variables,
        media_url=media,
    )


def compile_expression(text: str) -> Callable[..., Any]:
    """Compile a condition (a journey's ``if``) in the same sandbox as messages; call the result with variables.

    Unlike a message, a condition may test what is missing: ``contact.tier == 'vip'`` is false for a contact
    without a tier (an unknown name still fails when used further, as in ``contat.tier``).

    Raises:
        ValueError: a syntax error, saying what was found.
    """
    try:
        return CONDITIONS.compile_expression(text, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ValueError(
            f"expected a Jinja expression such as \"contact.tier == 'vip'\", found {text!r}: {exc.message}"
        ) from None


def names_in(text: str, *, expression: bool = False) -> frozenset[str]:
    """The variables an inline template (or, with ``expression``, a condition) reads; none when it does not parse
    (compiling it reports that)."""
    try:
        tree = (CONDITIONS if expression else ENV).parse("{{ (" + text + ") }}" if expression else text)
    except TemplateSyntaxError:
        return frozenset()
    return frozenset(meta.find_undeclared_variables(tree))


def compile_text(text: str) -> Template:
    """Compile a short inline template (a journey's entry ``key``), its loops guarded like a message's.

    Raises:
        ValueError: a syntax error, saying what was found.
    """
    try:
        tree = ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"expected a Jinja template, found {text!r}: {exc.message}") from None
    guard_loops(tree)
    return ENV.from_string(tree)


def evaluate(
    compiled: Callable[..., Any] | Template, variables: Mapping[str, Any], recipient: RecipientLike, field: str
) -> Any:
    """Evaluate a compiled condition (its value) or inline template (its text) for one recipient, within the
    same time limit as a message.

    Raises:
        RenderError: a missing variable, a sandbox refusal or any failure, naming the recipient and the field.
    """
    try:
        with time_limit():
            if isinstance(compiled, Template):
                return _render(compiled, dict(variables), recipient, field)
            return compiled(**variables)
    except RenderError:
        raise
    except RenderTimeout as exc:
        raise _error(recipient, field, str(exc)) from None
    except SecurityError as exc:
        raise _error(recipient, field, f"unsafe attribute or operation: {exc}") from None
    except UndefinedError as exc:
        match = _UNDEFINED_NAME.match(str(exc))
        raise _error(
            recipient, field, f"missing variable {match.group(1)!r}" if match else f"undefined: {exc}"
        ) from None
    except Exception as exc:  # an expression bug must name the recipient like any other
        raise _error(recipient, field, f"failed: {type(exc).__name__}: {exc}") from None


def _read_template(name: str, folder: Path, source: str) -> str:
    if "\0" in name:  # no file has such a name (and the OS calls refuse it with a ValueError)
        raise CampaignError(source, "template", f"{name!r} is not a file name: it holds a NUL character")
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise CampaignError(source, "template", f"{name!r} is outside the templates folder {folder}")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CampaignError(source, "template", f"template file not found: {folder / name}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError(source, "template", f"cannot read template {folder / name}: {exc}") from None


def _compile(
    text: str, source: str, field: str, used: set[str], names: set[str], *, display: str | None = None
) -> Template:
    """Compile one template, adding the variables it needs unconditionally to ``used``, all it reads to ``names``."""
    try:
        tree = ENV.parse(text)
    except TemplateSyntaxError as exc:
        where = f"{display}, line {exc.lineno}" if display else f"template line {exc.lineno}"
        raise CampaignError(source, field, f"Jinja syntax error ({where}): {exc.message}") from None
    read = meta.find_undeclared_variables(tree)
    used |= read - _optional_names(tree)
    names |= read
    guard_loops(tree)
    return ENV.from_string(tree)


def _optional_names(tree: nodes.Template) -> set[str]:
    """Names a template guards itself (``x | default(...)``, ``x is defined``): a recipient may lack them."""
    guarded = {
        node.node.name
        for node in tree.find_all(nodes.Filter)
        if node.name in ("default", "d") and isinstance(node.node, nodes.Name)
    }
    guarded |= {
        node.node.name
        for node in tree.find_all(nodes.Test)
        if node.name in ("defined", "undefined") and isinstance(node.node, nodes.Name)
    }
    return guarded


def _render(template: Template, variables: dict[str, Any], recipient: RecipientLike, field: str) -> str:
    # new_context(shared=True) uses our dict as is; Template.render would copy it twice. No globals: the dict
    # already holds them (base_vars), and Template.new_context would copy the template's globals ChainMap into a
    # set per render, which cost as much as the render itself (they only serve {% import %}, which has no loader).
    context = new_context(ENV, template.name, template.blocks, variables, shared=True)
    try:
        return _bounded(template.root_render_func(context))
    except RenderTimeout as exc:
        raise _error(recipient, field, f"{exc} (a loop too large?)") from None
    except _TooLong:
        raise _error(recipient, field, f"rendered more than {MAX_OUTPUT_CHARS} characters; stopped") from None
    except SecurityError as exc:
        raise _error(recipient, field, f"template tried to access an unsafe attribute or operation: {exc}") from None
    except UndefinedError as exc:
        match = _UNDEFINED_NAME.match(str(exc))
        what = f"missing variable {match.group(1)!r}" if match else f"undefined value: {exc}"
        if match and match.group(1) in recipient.vars:
            what = (
                f"variable {match.group(1)!r} is empty for this recipient; fill it in, or give the template a "
                f"default: {{{{ {match.group(1)} | default('...') }}}}"
            )
        raise _error(recipient, field, what) from None
    except OverflowError as exc:  # the sandbox's range() cap
        raise _error(recipient, field, f"template tried an unsafe operation: {exc}") from None
    except Exception as exc:  # a template bug (1/0, 'a' + 1...) must name the recipient like any other
        raise _error(recipient, field, f"template failed: {type(exc).__name__}: {exc}") from None


class _TooLong(Exception):
    pass


def _bounded(parts: Iterable[str]) -> str:
    """Join a render's output, stopping once it passes :data:`MAX_OUTPUT_CHARS`."""
    out: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_OUTPUT_CHARS:
            raise _TooLong
        out.append(part)
    return "".join(out)


def _error(recipient: RecipientLike, field: str, message: str) -> RenderError:
    who = f"recipient {recipient.phone}" + (f" ({recipient.source})" if recipient.source else "")
    return RenderError(f"{who}: {field}: {message}")


__all__ = [
    "MAX_BODY_CHARS",
    "MAX_OUTPUT_CHARS",
    "Attributes",
    "CompiledMessage",
    "OutboundMessage",
    "RecipientLike",
    "compile_expression",
    "compile_message",
    "compile_text",
    "evaluate",
    "names_in",
    "render_message",
]
