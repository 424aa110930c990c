"""Load campaign files: one file, every file under a folder, or one campaign by name."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from hub.campaigns.fields import FieldReader
from hub.campaigns.files import display_path, project_path
from hub.campaigns.parse import parse_campaign
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError, CampaignErrors
from hub.yamlfile import load_yaml

__all__ = [
    "CAMPAIGN_SUFFIXES",
    "DuplicateNameError",
    "campaign_files",
    "find_campaign",
    "load_campaign",
    "load_campaigns",
]

CAMPAIGN_SUFFIXES = (".yaml", ".yml")

log = logging.getLogger(__name__)


class DuplicateNameError(CampaignError):
    """A second campaign file uses a name another file already has.

    Attributes:
        name: the campaign name both files claim.
    """

    def __init__(self, file: str, message: str, line: int | None, *, name: str) -> None:
        super().__init__(file, "name", message, line)
        self.name = name


def load_campaign(path: Path, settings: Settings) -> CampaignSpec:
    """Read and validate one campaign file.

    Args:
        path: the YAML file.
        settings: where templates and audience files live; the default time zone.

    Returns:
        The validated campaign. ``schedule.timezone`` is filled with ``settings.timezone`` when the file has none.

    Raises:
        CampaignError: ``FILE:LINE: field.path: what was expected, what was found``; a :class:`CampaignErrors`
            (one line per problem) when the file has several.
    """
    file = display_path(path, settings)
    data, locator = load_yaml(path, display=file, error=CampaignError)
    reader = FieldReader(file, locator)
    for field, line, first in locator.duplicates():
        reader.report(
            field, f"expected each key once, found it again (first on line {first}; YAML keeps the last)", line
        )
    return parse_campaign(data, reader, path, settings)


def campaign_files(settings: Settings, paths: Iterable[Path] | None = None) -> tuple[list[Path], list[CampaignError]]:
    """The campaign files named by ``paths`` (files, or folders holding ``*.yaml`` / ``*.yml``), sorted per folder.

    Args:
        settings: ``paths.campaigns`` is the default folder.
        paths: files or folders; relative ones are taken as given (relative to the working directory).

    Returns:
        The files (each once) and an error for every path that does not exist.
    """
    targets = list(paths) if paths is not None else [project_path(settings, settings.paths.campaigns)]
    files: list[Path] = []
    errors: list[CampaignError] = []
    seen: set[Path] = set()
    for target in targets:
        if target.is_dir():
            found = sorted(p for p in target.iterdir() if p.suffix in CAMPAIGN_SUFFIXES and p.is_file())
        elif target.is_file():
            found = [target]
        else:
            errors.append(CampaignError(display_path(target, settings), "", "no such file or folder"))
            continue
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files, errors


def load_campaigns(
    settings: Settings, paths: list[Path] | None = None
) -> tuple[list[CampaignSpec], list[CampaignError]]:
    """Load every campaign, collecting problems instead of stopping at the first bad file.

    Args:
        settings: the project settings (``paths.campaigns`` is the default place to look).
        paths: files or folders to load instead of the default folder.

    Returns:
        The valid campaigns in file order, and every problem of each invalid file (or missing path). When two
        files use the same name, the second one is an error naming both files.
    """
    files, errors = campaign_files(settings, paths)
    specs: list[CampaignSpec] = []
    by_name: dict[str, CampaignSpec] = {}
    for path in files:
        try:
            spec = load_campaign(path, settings)
        except CampaignErrors as exc:
            errors.extend(exc.problems)
            continue
        except CampaignError as exc:
            errors.append(exc)
            continue
        except Exception as exc:  # a bug in a check must not hide the other campaigns (nor answer 500)
            log.exception("campaign file %s could not be checked", path)
            errors.append(
                CampaignError(display_path(path, settings), "", f"could not be checked ({type(exc).__name__})")
            )
            continue
        first = by_name.get(spec.name)
        if first is not None:
            errors.append(_duplicate(spec, first, settings))
            continue
        by_name[spec.name] = spec
        specs.append(spec)
    return specs, errors


def find_campaign(settings: Settings, name: str) -> CampaignSpec:
    """One campaign, by its name (or by the path of its file).

    Args:
        settings: the project settings.
        name: a campaign name (``spring-sale``) or a path to a campaign file (``campaigns/spring-sale.yaml``).

    Raises:
        CampaignError: no campaign has that name, or its file is invalid, or its name is used twice.
    """
    as_path = Path(name)
    if as_path.suffix in CAMPAIGN_SUFFIXES and as_path.is_file():
        return load_campaign(as_path, settings)
    specs, errors = load_campaigns(settings)
    # A broken file named after the campaign, or a second file claiming the name, explains the miss best.
    explaining = [
        error
        for error in errors
        if Path(error.file).stem == name or (isinstance(error, DuplicateNameError) and error.name == name)
    ]
    if explaining:
        raise explaining[0] if len(explaining) == 1 else CampaignErrors(explaining)
    for spec in specs:
        if spec.name == name:
            return spec
    folder = display_path(project_path(settings, settings.paths.campaigns), settings)
    known = ", ".join(sorted(spec.name for spec in specs)) or "none"
    raise CampaignError(folder, "", f"no campaign named {name!r}; the valid campaigns are: {known}")


def _duplicate(spec: CampaignSpec, first: CampaignSpec, settings: Settings) -> CampaignError:
    file = display_path(spec.source, settings)
    try:
        _, locator = load_yaml(spec.source, display=file, error=CampaignError)
        line = locator.line(["name"])
    except CampaignError:
        line = None
    other = display_path(first.source, settings)
    message = f"expected a unique campaign name, found {spec.name!r}, already used by {other}"
    return DuplicateNameError(file, message, line, name=spec.name)
