"""The API in-process for the abuse scenarios: a keyed app on a given ledger, Twilio signing, a submitted row."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import msgspec
from litestar import Litestar
from litestar.testing import TestClient
from twilio.request_validator import RequestValidator

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import ApiSettings, Secret, Settings, TwilioSettings
from hub.status import RunState
from hub.store import db
from hub.store import queries as q

API_KEY = "chaos-api-key"
AUTH_TOKEN = "chaos-webhook-token"
PUBLIC_URL = "https://hooks.example.com"
STATUS_PATH = "/webhooks/twilio/status"

#: Templates that try to reach Python internals through Jinja (a sandbox must refuse every one).
ESCAPES = (
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ lipsum.__globals__['os'].system('touch /tmp/pwned') }}",
    "{{ request.application.__self__._get_data_for_json.__globals__ }}",
    "{{ config.items() }}",
    "{{ ().__class__.__bases__[0].__subclasses__()[40]('/etc/passwd').read() }}",
    "{% set x = namespace() %}{{ x.__init__.__globals__ }}",
    "{{ first_name.__class__.__mro__ }}",
    "{{ first_name|attr('__class__') }}",
    "{{ 'a'.format.__globals__ }}",
)


def keyed_settings(base: Settings, folder: Path) -> Settings:
    """``base`` with an API key, a webhook token, the public URL and the repository in ``folder``."""
    (folder / "campaigns").mkdir(exist_ok=True)
    (folder / "templates" / "messages").mkdir(parents=True, exist_ok=True)
    paths = msgspec.structs.replace(
        base.paths, campaigns=folder / "campaigns", templates=folder / "templates" / "messages"
    )
    return msgspec.structs.replace(
        base,
        api=ApiSettings(keys=(Secret(API_KEY),)),
        twilio=TwilioSettings(auth_token=Secret(AUTH_TOKEN)),
        public_url=PUBLIC_URL,
        paths=paths,
    )


@contextmanager
def api_client(settings: Settings, *, keyed: bool = True) -> Iterator[TestClient[Litestar]]:
    async def ok() -> None:
        return None

    app = create_app(settings, enqueuer=RecordingEnqueuer(), probes={"database": ok, "redis": ok})
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        if keyed:
            client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield client


def sign(path: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(PUBLIC_URL + path, dict(params)))


def submitted(sid: str, phone: str = "+14155550100") -> int:
    """A row handed to Twilio as ``sid`` (status ``queued``); its id."""

    async def make() -> int:
        run, _ = await q.create_run(state=RunState.RUNNING)
        (message_id,) = await q.insert_messages(run.id, [q.NewMessage(recipient=phone, body="hi")])
        await q.claim_for_send(message_id)
        await q.mark_submitted(message_id, sid, "queued")
        return message_id

    return db.run_sync(make())


def callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "whatsapp:+14155550100",
        **extra,
    }
