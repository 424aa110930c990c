"""Rendering: variables, limits, errors that name the recipient, and the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hub.campaigns.spec import MessageSpec
from hub.config import Settings
from hub.errors import CampaignError, RenderError
from hub.rendering import MAX_BODY_CHARS, CompiledMessage, OutboundMessage, compile_message, render_message

PHONE = "+4915123456789"


@dataclass(frozen=True)
class Person:
    """A recipient as ``hub.rendering.RecipientLike`` describes it."""

    phone: str = PHONE
    vars: Mapping[str, Any] = field(default_factory=dict)
    source: str = "audiences/test.csv:7"


@pytest.fixture
def settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    (tmp_path / "templates" / "messages").mkdir(parents=True)
    return make_settings()


def compiled(settings: Settings, **message: Any) -> CompiledMessage:
    return compile_message(MessageSpec(**message), settings, name="spring-sale", source="campaigns/spring-sale.yaml")


def render(settings: Settings, recipient_vars: Mapping[str, Any] | None = None, **message: Any) -> OutboundMessage:
    return render_message(compiled(settings, **message), Person(vars=recipient_vars or {}))


@pytest.mark.parametrize(
    ("body", "campaign_vars", "recipient_vars", "expected"),
    [
        ("Hi {{ name }}", {"name": "Team"}, {}, "Hi Team"),
        ("Hi {{ name }}", {"name": "Team"}, {"name": "Ada"}, "Hi Ada"),
        ("Code {{ code }} for {{ name }}", {"code": "SPRING24"}, {"name": "Ada"}, "Code SPRING24 for Ada"),
        ("To {{ phone }}", {}, {}, f"To {PHONE}"),
        ("To {{ phone }}", {"phone": "+10000000000"}, {"phone": "+10000000000"}, f"To {PHONE}"),
        ("From {{ campaign }}", {}, {"campaign": "other"}, "From spring-sale"),
        ("{{ items | join(', ') }}", {"items": ["a", "b"]}, {}, "a, b"),
        ("Line\n", {}, {}, "Line"),
        (
            "List:\n{% for i in items %}\n  - {{ i }}\n{% endfor %}\nEnd",
            {"items": [1, 2]},
            {},
            "List:\n  - 1\n  - 2\nEnd",
        ),
    ],
    ids=[
        "campaign-var",
        "recipient-wins",
        "both-sources",
        "phone",
        "phone-not-overridable",
        "campaign-not-overridable",
        "filters",
        "trailing-newline-dropped",
        "block-lines-leave-no-blank-line",
    ],
)
def test_body_renders_variables_with_recipient_winning(
    settings: Settings, body: str, campaign_vars: dict[str, Any], recipient_vars: dict[str, Any], expected: str
) -> None:
    message = render(settings, recipient_vars, body=body, vars=campaign_vars)
    assert message == OutboundMessage(to=PHONE, body=expected)


def test_rendering_does_not_mutate_campaign_or_recipient_vars(settings: Settings) -> None:
    campaign_vars = {"name": "Team"}
    recipient_vars = {"name": "Ada"}
    message = compiled(settings, body="{% set name = 'x' %}{{ name }}", vars=campaign_vars)
    render_message(message, Person(vars=recipient_vars))
    assert (campaign_vars, recipient_vars, message.base_vars["name"]) == ({"name": "Team"}, {"name": "Ada"}, "Team")


@pytest.mark.parametrize(
    "value",
    ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "{{ ''.__class__ }}", "{# c #}", "%s %d"],
)
def test_hostile_variable_values_render_literally(settings: Settings, value: str) -> None:
    assert render(settings, {"name": value}, body="Hi {{ name }}!").body == f"Hi {value}!"


def test_missing_variable_names_the_recipient_and_the_variable(settings: Settings) -> None:
    with pytest.raises(RenderError) as caught:
        render(settings, {"name": "Ada"}, body="Hi {{ name }}, your code is {{ code }}")
    assert str(caught.value) == f"recipient {PHONE} (audiences/test.csv:7): body: missing variable 'code'"


def test_missing_attribute_of_a_variable_is_an_error(settings: Settings) -> None:
    with pytest.raises(RenderError, match=r"body: undefined value: 'dict object' has no attribute 'city'"):
        render(settings, {}, body="{{ address.city }}", vars={"address": {}})


def test_missing_variable_in_content_variable_names_the_key(settings: Settings) -> None:
    with pytest.raises(RenderError, match=r"content_variables\.2: missing variable 'code'"):
        render(settings, {}, content_sid="HX" + "0" * 32, content_variables={"1": "x", "2": "{{ code }}"})


@pytest.mark.parametrize(("length", "fails"), [(MAX_BODY_CHARS, False), (MAX_BODY_CHARS + 1, True)])
def test_body_over_1600_characters_is_refused(settings: Settings, length: int, fails: bool) -> None:
    if fails:
        with pytest.raises(RenderError, match=rf"body: rendered to {length} characters; the limit is 1600"):
            render(settings, {"text": "é" * length}, body="{{ text }}")
    else:
        assert render(settings, {"text": "é" * length}, body="{{ text }}").body == "é" * length


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_body_that_renders_empty_is_refused(settings: Settings, value: str) -> None:
    with pytest.raises(RenderError, match="body: rendered empty"):
        render(settings, body="{{ text }}", vars={"text": value})


@pytest.mark.parametrize("value", ["", "  "])
def test_content_variable_that_renders_empty_is_refused_naming_the_key(settings: Settings, value: str) -> None:
    with pytest.raises(RenderError, match=r"content_variables\.2: rendered empty"):
        render(
            settings,
            content_sid="HX" + "a" * 32,
            content_variables={"1": "x", "2": "{{ code }}"},
            vars={"code": value},
        )


def test_content_template_message_has_sid_and_rendered_variables_and_no_body(settings: Settings) -> None:
    sid = "HX" + "b" * 32
    message = render(
        settings,
        {"first_name": "Ada"},
        content_sid=sid,
        content_variables={"1": "{{ first_name }}", "2": "{{ code }}"},
        vars={"code": "SPRING24"},
    )
    assert message == OutboundMessage(
        to=PHONE, body=None, content_sid=sid, content_variables={"1": "Ada", "2": "SPRING24"}
    )


@pytest.mark.parametrize(
    ("urls", "recipient_vars", "expected"),
    [
        (["https://cdn.example.com/{{ image }}"], {"image": "a.png"}, ["https://cdn.example.com/a.png"]),
        (["{{ image | default('') }}"], {}, []),
        (
            ["https://x.example/1.png", "http://x.example/2.png"],
            {},
            ["https://x.example/1.png", "http://x.example/2.png"],
        ),
    ],
    ids=["rendered", "empty-left-out", "static"],
)
def test_media_urls_render_and_empty_ones_are_left_out(
    settings: Settings, urls: list[str], recipient_vars: dict[str, Any], expected: list[str]
) -> None:
    assert render(settings, recipient_vars, body="Hi", media_url=urls).media_url == expected


def test_media_url_that_is_not_http_is_refused(settings: Settings) -> None:
    with pytest.raises(RenderError, match=r"media_url\[0\]: expected an http\(s\) URL, got 'file:///etc/passwd'"):
        render(settings, {}, body="Hi", media_url=["file:///etc/passwd"])


def test_template_file_is_loaded_from_the_templates_folder(settings: Settings) -> None:
    (settings.paths.templates / "reminder.j2").write_text("Hi {{ name }},\nsee you {{ when }}.\n", encoding="utf-8")
    message = render(settings, {"name": "Ada", "when": "Monday"}, template="reminder.j2")
    assert message.body == "Hi Ada,\nsee you Monday."


@pytest.mark.parametrize(
    ("message", "field", "text"),
    [
        ({"body": "Hi {{ name "}, "body", "Jinja syntax error (template line 1)"),
        ({"body": "{% if x %}open"}, "body", "Jinja syntax error (template line 1)"),
        ({"template": "broken.j2"}, "template", "Jinja syntax error (broken.j2, line 2)"),
        ({"template": "absent.j2"}, "template", "template file not found"),
        ({"template": "../../config.yaml"}, "template", "is outside the templates folder"),
        ({"content_sid": "HX" + "c" * 32, "content_variables": {"1": "{{ x }"}}, "content_variables.1", "syntax"),
        ({"body": "Hi", "media_url": ["{{ url"]}, "media_url[0]", "Jinja syntax error"),
        ({}, "", "expected one of `template`, `body` or `content_sid`"),
    ],
    ids=[
        "unclosed-var",
        "unclosed-block",
        "file-syntax",
        "file-missing",
        "file-escape",
        "content-var",
        "media",
        "none",
    ],
)
def test_compile_errors_name_the_file_and_the_field(
    settings: Settings, message: dict[str, Any], field: str, text: str
) -> None:
    (settings.paths.templates / "broken.j2").write_text("Hi\n{{ name }\n", encoding="utf-8")
    with pytest.raises(CampaignError) as caught:
        compiled(settings, **message)
    assert (caught.value.file, caught.value.field) == ("campaigns/spring-sale.yaml", field)
    assert text in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self.__init__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ name.__class__.__base__ }}",
        "{{ [].append.__self__ }}",
        "{{ items.append(1) }}",
        "{{ dict.__init__ }}",
        "{{ ''.format.__globals__ }}",
        "{{ '{0.__class__}'.format(name) }}",
        "{{ range.__code__ }}",
        "{{ lipsum.__code__.co_consts }}",
    ],
)
def test_sandbox_refuses_python_internals(settings: Settings, body: str) -> None:
    with pytest.raises(RenderError, match=r"template tried to access an unsafe attribute"):
        render(settings, {"name": "Ada"}, body=body, vars={"items": [1]})


@pytest.mark.parametrize(
    "body",
    [
        "{{ 'x' * 1000000 }}",
        "{{ [1] * 1000000 }}",
        "{{ 10 ** 100000 }}",
        "{{ range(10 ** 9) | list }}",
        "{{ '%0999999d' % 1 }}",
        "{{ '{:>999999}'.format(1) }}",
        "{{ 'x' | center(999999) }}",
        "{{ 'x' | indent(999999, true) }}",
        "{{ '%999999s' | format('x') }}",
    ],
)
def test_sandbox_refuses_resource_exhaustion(settings: Settings, body: str) -> None:
    with pytest.raises(RenderError, match=r"template tried (to access )?an unsafe"):
        render(settings, {}, body=body)


def test_template_runtime_error_names_the_recipient(settings: Settings) -> None:
    with pytest.raises(RenderError, match=rf"recipient \{PHONE}.*body: template failed: ZeroDivisionError"):
        render(settings, {}, body="{{ 1 / 0 }}")


def test_compiled_message_renders_many_recipients_independently(settings: Settings) -> None:
    message = compiled(settings, body="Hi {{ name }}", vars={"name": "Team"})
    people = [Person(phone=f"+49151234567{i}", vars={"name": f"P{i}"} if i % 2 else {}) for i in range(4)]
    assert [render_message(message, p).body for p in people] == ["Hi Team", "Hi P1", "Hi Team", "Hi P3"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"body": "Hi {{ first_name }} {{ code }} {{ phone }} {{ campaign }}", "vars": {"code": "X"}}, {"first_name"}),
        ({"body": "{{ nick | default(first_name) }}"}, {"first_name"}),
        ({"body": "{% if city is defined %}{{ city }}{% endif %}Hi"}, set()),
        ({"body": "{% for i in items %}{{ i }}{% endfor %}{% set x = 1 %}{{ x }}"}, {"items"}),
        ({"body": "{{ range(3) | join }}{{ lipsum(1) }}"}, set()),
        ({"content_sid": "HX" + "d" * 32, "content_variables": {"1": "{{ a }}", "2": "{{ b }}"}}, {"a", "b"}),
        ({"body": "Hi", "media_url": ["https://x/{{ b }}"]}, {"b"}),
    ],
    ids=["vars-phone-campaign-provided", "default-filter", "is-defined", "loop-and-set", "globals", "sid", "media"],
)
def test_recipient_variables_are_those_each_recipient_must_bring(
    settings: Settings, message: dict[str, Any], expected: set[str]
) -> None:
    assert compiled(settings, **message).recipient_variables == expected


@pytest.mark.parametrize("cell", ["", "  ", None])
def test_an_empty_recipient_value_is_a_missing_variable_naming_recipient_and_variable(
    settings: Settings, cell: Any
) -> None:
    with pytest.raises(RenderError) as caught:
        render(settings, {"first_name": cell}, body="Hi {{ first_name }}!")
    assert str(caught.value).startswith(
        f"recipient {PHONE} (audiences/test.csv:7): body: variable 'first_name' is empty for this recipient"
    )


@pytest.mark.parametrize(
    ("body", "campaign_vars", "expected"),
    [
        ("Hi {{ first_name | default('there') }}!", {}, "Hi there!"),
        ("Hi {{ first_name }}!", {"first_name": "team"}, "Hi team!"),
        ("Hi{% if first_name is defined %} {{ first_name }}{% endif %}!", {}, "Hi!"),
    ],
    ids=["template-default", "campaign-var", "is-defined"],
)
def test_an_empty_recipient_value_takes_the_default_the_campaign_gives(
    settings: Settings, body: str, campaign_vars: dict[str, Any], expected: str
) -> None:
    assert render(settings, {"first_name": ""}, body=body, vars=campaign_vars).body == expected


@pytest.mark.parametrize(
    "body",
    [
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}x",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% for k in [1] %}{% endfor %}{% endfor %}{% endfor %}x",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}x",
    ],
    ids=["nested-loops", "three-deep", "recursive-macro"],
)
def test_a_render_that_runs_past_the_time_limit_stops_with_an_error_naming_the_recipient(
    settings: Settings, body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.sandbox.RENDER_TIME_LIMIT_S", 0.05)
    with pytest.raises(RenderError) as caught:
        render(settings, body=body)
    assert str(caught.value).startswith(f"recipient {PHONE} (audiences/test.csv:7): body: rendering used more than")


def test_a_render_that_outputs_too_much_stops_before_filling_memory(settings: Settings) -> None:
    body = "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}"
    with pytest.raises(RenderError, match=r"body: rendered more than 16000 characters; stopped"):
        render(settings, body=body)


def test_loops_within_the_limits_render_as_written(settings: Settings) -> None:
    body = "{% for i in range(3) %}{% for j in items %}{{ loop.index }}{{ j }}{% endfor %};{% endfor %}"
    assert render(settings, {"items": ["a", "b"]}, body=body).body == "1a2b;1a2b;1a2b;"


@pytest.mark.parametrize(
    "body",
    [
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "{{ ([('x' * 100000)] * 100000) | join }}",
        "{{ ''.join([('x' * 100000)] * 100000) }}",
        "{{ ('x' * 100000) | replace('x', 'x' * 100000) }}",
        "{{ ('x' * 100000).replace('x', 'x' * 100000) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
    ],
    ids=["doubling-concat", "join-filter", "join-method", "replace-filter", "replace-method", "ljust", "zfill"],
)
def test_a_template_cannot_build_a_huge_string_in_one_step(settings: Settings, body: str) -> None:
    with pytest.raises(RenderError, match=r"body: template tried to access an unsafe attribute or operation"):
        render(settings, body=body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{{ 'a' ~ 1 ~ 'b' }}", "a1b"),
        ("{{ items | join(', ') }}", "x, y"),
        ("{{ ', '.join(items) }}", "x, y"),
        ("{{ 'hello' | replace('l', 'L') }}", "heLLo"),
        ("{{ 'hello'.replace('l', 'L', 1) }}", "heLlo"),
        ("{{ '7'.zfill(3) }}", "007"),
    ],
)
def test_ordinary_strings_still_build(settings: Settings, body: str, expected: str) -> None:
    assert render(settings, body=body, vars={"items": ["x", "y"]}).body == expected


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        (
            {"content_sid": "HX" + "e" * 32, "media_url": ["https://x/a.jpg"]},
            "media_url",
            "not allowed with content_sid",
        ),
        ({"content_sid": "HX123"}, "content_sid", "HX followed by 32 hex digits"),
        ({"content_sid": "hx" + "e" * 32}, "content_sid", "HX followed by 32 hex digits"),
    ],
    ids=["sid-with-media", "short-sid", "lowercase-prefix"],
)
def test_a_request_twilio_would_refuse_is_refused_at_compile_time(
    settings: Settings, message: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(CampaignError) as caught:
        compiled(settings, **message)
    assert caught.value.field == field and words in caught.value.message


def test_a_template_without_loops_or_calls_never_meets_the_time_limit(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A linear template cannot run away: however busy the machine, it must not be failed for slowness.
    monkeypatch.setattr("hub.sandbox.RENDER_TIME_LIMIT_S", 0.0)
    assert render(settings, {"name": "Ada"}, body="Hi {{ name | upper }} {{ 'x' ~ 'y' }}").body == "Hi ADA xy"
    with pytest.raises(RenderError, match="rendering used more than 0 s of CPU"):
        render(settings, body="{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}x")
