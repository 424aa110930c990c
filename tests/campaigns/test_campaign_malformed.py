"""Every file in malformed/ is refused with an error that names the file and the field (and says why).

Each file starts with ``# expect: FIELD`` (``-`` for a whole-file error such as broken YAML) and
``# says: TEXT``, a fragment the message must contain.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.campaigns import load_campaign, load_campaigns
from hub.config import Settings
from hub.errors import CampaignError

MALFORMED = Path(__file__).resolve().parent / "malformed"
FILES = sorted(MALFORMED.glob("*.yaml"))


def expectations(path: Path) -> tuple[str, str]:
    head = path.read_text(encoding="utf-8").splitlines()[:2]
    field = re.fullmatch(r"# expect: (.+)", head[0])
    says = re.fullmatch(r"# says: (.+)", head[1])
    assert field and says, f"{path.name} must start with '# expect: FIELD' and '# says: TEXT'"
    return field.group(1), says.group(1)


def test_the_corpus_is_large_and_each_mistake_distinct() -> None:
    assert len(FILES) >= 25
    texts = [path.read_text(encoding="utf-8").split("\n", 2)[2] for path in FILES]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_malformed_file_is_refused_naming_file_and_field(settings: Settings, path: Path) -> None:
    field, says = expectations(path)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path, settings)
    error = caught.value
    assert error.file.endswith(path.name)
    assert error.field == ("" if field == "-" else field)
    assert says in error.message
    if field != "-":
        assert error.line is not None and error.line > 2  # the two expectation comments come first
    assert str(error).startswith(f"{error.file}:{error.line}: {error.field}: " if field != "-" else error.file)


def test_load_campaigns_reports_every_malformed_file(settings: Settings) -> None:
    specs, errors = load_campaigns(settings, [MALFORMED])
    assert specs == []
    assert sorted({Path(error.file).name for error in errors}) == [path.name for path in FILES]
