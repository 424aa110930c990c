"""Config: one frozen object from config.yaml, overridden by the environment, never showing a secret."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from hub.config import Secret, Settings, load_settings, redact_url
from hub.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_default_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.rate_limits.per_second == 80
    assert settings.redis.url == "embedded"
    assert settings.transport == "auto"
    assert settings.opt_out.keywords == ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
    assert settings.opt_in.keywords == ("START", "UNSTOP", "YES")


def test_explicitly_named_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_hub_config_names_another_file(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("timezone: Asia/Kolkata\n", encoding="utf-8")
    assert load_settings(env={"HUB_CONFIG": str(other)}).timezone == "Asia/Kolkata"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    with pytest.raises(AttributeError):
        settings.timezone = "UTC"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("bogus: 1\n", "bogus"),
        ("rate_limits:\n  per_second: 80\n  burst: 3\n", "rate_limits.burst"),
        ("twilio:\n  token: x\n", "twilio.token"),
        ("rate_limits:\n  per_recipient: {max: 1, window: 5}\n", "rate_limits.per_recipient.window"),
        ("sending:\n  batches: true\n", "sending.batches"),
    ],
)
def test_unknown_key_is_an_error_naming_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    assert f"{key}: unknown key" in str(info.value)


def test_unknown_key_error_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: UTC\nrate_limits:\n  per_second: 80\n  burst: 3\n")
    with pytest.raises(ConfigError, match=r"config.yaml:4: rate_limits.burst"):
        load_settings(path, env={})


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"retries.max_retries: Expected `int`"):
        load_settings(write(tmp_path, "retries:\n  max_retries: many\n"), env={})


def test_send_batch_size_defaults_to_100(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), env={}).sending.batch_size == 100


def test_send_batch_size_is_read_from_the_file_and_the_environment_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "sending:\n  batch_size: 50\n")
    assert load_settings(path, env={}).sending.batch_size == 50
    assert load_settings(path, env={"HUB_SEND_BATCH_SIZE": "1"}).sending.batch_size == 1


def test_send_batch_size_below_one_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sending.batch_size: Expected `int` >= 1"):
        load_settings(write(tmp_path, "sending:\n  batch_size: 0\n"), env={})


def test_invalid_timezone_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="timezone"):
        load_settings(write(tmp_path, "timezone: Mars/Olympus\n"), env={})


def test_invalid_yaml_is_an_error_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "rate_limits: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_settings(path, env={})


@pytest.mark.parametrize(
    ("var", "value", "read"),
    [
        ("DATABASE_URL", "postgresql://u@h/db", lambda s: s.database.url),
        ("REDIS_URL", "redis://h:6379/0", lambda s: s.redis.url),
        ("TWILIO_ACCOUNT_SID", "AC123", lambda s: s.twilio.account_sid),
        ("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886", lambda s: s.twilio.from_),
        ("TWILIO_MESSAGING_SERVICE_SID", "MG1", lambda s: s.twilio.messaging_service_sid),
        ("TWILIO_API_BASE_URL", "http://127.0.0.1:9", lambda s: s.twilio.api_base_url),
        ("HUB_TRANSPORT", "simulator", lambda s: s.transport),
        ("HUB_PUBLIC_URL", "https://hooks.example.com", lambda s: s.public_url),
        ("HUB_RATE_PER_SECOND", "20", lambda s: s.rate_limits.per_second),
        ("HUB_TIMEZONE", "Europe/Berlin", lambda s: s.timezone),
    ],
)
def test_environment_overrides_the_file(tmp_path: Path, var: str, value: str, read) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "database: {url: embedded}\nredis: {url: embedded}\ntransport: auto\n")
    expected: object = float(value) if var == "HUB_RATE_PER_SECOND" else value
    assert read(load_settings(path, env={var: value})) == expected


def test_api_keys_come_comma_separated_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={"HUB_API_KEYS": "k1, k2,"})
    assert [k.reveal() for k in settings.api.keys] == ["k1", "k2"]


def test_from_key_is_spelled_from_in_yaml(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, 'twilio:\n  from: "whatsapp:+14155238886"\n'), env={})
    assert settings.twilio.from_ == "whatsapp:+14155238886"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "deploy"
    sub.mkdir()
    path = sub / "config.yaml"
    path.write_text("paths: {campaigns: camp}\n", encoding="utf-8")
    settings = load_settings(path, env={})
    assert settings.paths.campaigns == sub / "camp"
    assert settings.paths.templates == sub / "templates" / "messages"
    assert settings.root == sub.resolve()


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    env = {
        "TWILIO_AUTH_TOKEN": "tok-very-secret",
        "HUB_API_KEYS": "key-very-secret",
        "REDIS_URL": "redis://:pw-very-secret@h:6379/0",
        "DATABASE_URL": "postgresql://u:db-very-secret@h/db",
    }
    settings = load_settings(write(tmp_path, ""), env=env)
    text = repr(settings) + str(settings)
    assert "very-secret" not in text
    assert settings.twilio.auth_token is not None
    assert settings.twilio.auth_token.reveal() == "tok-very-secret"


def test_wrong_typed_secret_error_does_not_echo_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "twilio:\n  auth_token: [tok-very-secret]\n"), env={})
    assert "very-secret" not in str(info.value)
    assert "twilio.auth_token" in str(info.value)


@pytest.mark.parametrize(
    ("config", "transport"),
    [
        ({}, "simulator"),
        ({"twilio": {"account_sid": "AC1", "auth_token": "t", "from": "whatsapp:+1"}}, "twilio"),
        ({"twilio": {"account_sid": "AC1", "auth_token": "t", "messaging_service_sid": "MG1"}}, "twilio"),
        ({"twilio": {"account_sid": "AC1", "auth_token": "t"}}, "simulator"),
        ({"transport": "simulator", "twilio": {"account_sid": "AC1", "auth_token": "t", "from": "x"}}, "simulator"),
        ({"transport": "twilio"}, "twilio"),
    ],
)
def test_auto_transport_uses_twilio_only_with_credentials(make_settings, config, transport) -> None:  # type: ignore[no-untyped-def]
    assert make_settings(config).effective_transport == transport


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresql://user:pw@h:5432/db", "postgresql://user:***@h:5432/db"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("embedded", "embedded"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_secret_compares_by_value_but_hides_it() -> None:
    assert Secret("a") == Secret("a")
    assert "a" not in repr(Secret("a"))


def test_shipped_config_yaml_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    settings = load_settings(root / "config.yaml", env={})
    assert isinstance(settings, Settings)
    assert msgspec.structs.asdict(settings)["transport"] == "auto"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rate_limits:\n  per_second: 0\n", "config.yaml:2: rate_limits.per_second: Expected `float` > 0.0"),
        ("rate_limits:\n  per_second: -5\n", "config.yaml:2: rate_limits.per_second: Expected `float` > 0.0"),
        ("rate_limits:\n  per_second: .inf\n", "config.yaml:2: rate_limits.per_second: Expected `float` <= 1000000.0"),
        (
            "rate_limits:\n  per_recipient: {max: 0}\n",
            "config.yaml:2: rate_limits.per_recipient.max: Expected `int` >= 1",
        ),
        (
            "rate_limits:\n  per_recipient: {window_seconds: -60}\n",
            "config.yaml:2: rate_limits.per_recipient.window_seconds: Expected `int` >= 1",
        ),
        (
            "rate_limits:\n  daily_unique_recipients: 0\n",
            "config.yaml:2: rate_limits.daily_unique_recipients: Expected `int` >= 1",
        ),
        ("simulator:\n  failure_rate: 2\n", "config.yaml:2: simulator.failure_rate: Expected `float` <= 1.0"),
        (
            "simulator:\n  undelivered_rate: -0.1\n",
            "config.yaml:2: simulator.undelivered_rate: Expected `float` >= 0.0",
        ),
        (
            "simulator: {failure_rate: 0.6, undelivered_rate: 0.6}\n",
            "config.yaml:1: simulator.undelivered_rate: expected failure_rate + undelivered_rate <= 1",
        ),
        ("simulator:\n  step_delay_ms: -1\n", "config.yaml:2: simulator.step_delay_ms: Expected `int` >= 0"),
        (
            "scheduler:\n  misfire_grace_seconds: 0\n",
            "config.yaml:2: scheduler.misfire_grace_seconds: Expected `int` >= 1",
        ),
        ("twilio:\n  timeout_seconds: 0\n", "config.yaml:2: twilio.timeout_seconds: Expected `float` > 0.0"),
        ("retries:\n  max_retries: -1\n", "config.yaml:2: retries.max_retries: Expected `int` >= 0"),
        ("retries:\n  min_backoff_ms: 0\n", "config.yaml:2: retries.min_backoff_ms: Expected `int` >= 1"),
        (
            "retries: {min_backoff_ms: 5000, max_backoff_ms: 1000}\n",
            "config.yaml:1: retries.max_backoff_ms: expected at least retries.min_backoff_ms",
        ),
    ],
    ids=lambda value: value if "\n" not in value else None,
)
def test_a_number_out_of_its_range_is_refused_naming_file_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env={})
    assert str(info.value) == f"{tmp_path}/{expected}"


@pytest.mark.parametrize("value", ["0", "-3", "fast"])
def test_a_bad_environment_value_is_blamed_on_the_variable_not_the_file(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "rate_limits:\n  per_second: 80\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={"HUB_RATE_PER_SECOND": value})
    message = str(info.value)
    assert message.startswith("HUB_RATE_PER_SECOND (sets rate_limits.per_second): Expected `float`")
    assert str(path) not in message


def test_a_key_written_twice_is_an_error_at_the_repeat(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: UTC\nrate_limits: {per_second: 10}\ntimezone: Europe/Berlin\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(info.value) == f"{path}:3: timezone: written twice (first on line 1); YAML would keep the last"


def test_every_problem_of_the_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "rate_limits:\n  per_second: 0\n  burst: 3\nsimulator:\n  failure_rate: 2\nbogus: 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert [line.split(": ")[:2] for line in str(info.value).splitlines()] == [
        [f"{path}:2", "rate_limits.per_second"],
        [f"{path}:3", "rate_limits.burst"],
        [f"{path}:5", "simulator.failure_rate"],
        [f"{path}:6", "bogus"],
    ]


def test_the_database_is_embedded_postgresql_by_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    assert settings.database.url == "embedded" and settings.database.is_embedded


@pytest.mark.parametrize("url", ["sqlite:///hub.db", "mysql://u:secret@h/d"])
def test_a_database_other_than_postgresql_is_refused_naming_the_key(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, f"database: {{url: '{url}'}}\n"), env={})
    assert "database.url: expected postgresql://... or embedded" in str(info.value)
    assert "secret" not in str(info.value)
