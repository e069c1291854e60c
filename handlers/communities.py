"""Community files: who the communities are, their QR scenes, duty workers, grids, teams and escalation.

`parse_community_file` validates the whole file first and names the line of any mistake (an unknown or
duplicate key, a number out of range, ...); nothing is written unless every community in it is valid.
`spec_of` turns a stored community back into the same typed objects: the rest of the code reads those,
never the raw `Community.config` dict.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import types
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError
from sqlalchemy.orm import Session

from handlers.board.rules import BoardRules, SatisfactionRules
from handlers.tickets.rules import CATEGORIES, UrgencyRuleSpec
from handlers.volunteering.rules import PointsRules, RewardSpec
from handlers.wellbeing.rules import DEFAULT_TAGS, SafecheckRules
from storage import repositories as repo
from storage import rewards as rrepo
from storage.models import Community

log = logging.getLogger(__name__)


class CommunityFileError(ValueError):
    pass


# WeCom userids are at most 64 characters; so is a WeChat QR scene string.
UserId = Annotated[str, Field(min_length=1, max_length=64)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]


class Worker(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ShortText
    wecom_userid: UserId
    phone: str | None = Field(default=None, max_length=20)


# Building numbers are written bare in YAML (`buildings: [1, 2, 3]`); we keep them as text ("3", "A").
BuildingId = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),
    Field(min_length=1, max_length=32),
]


class Grid(BaseModel):
    """A grid (网格): a few buildings and the worker responsible for them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Annotated[str, Field(min_length=1, max_length=32)]
    name: ShortText
    worker: Worker
    buildings: list[BuildingId] = Field(min_length=1, max_length=1000)


class Escalation(BaseModel):
    """Who hears about a ticket when the responsible worker misses the deadline, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    leader: Worker
    street: Worker | None = None


class Consultants(BaseModel):
    """Who takes a resident's consultation request, per kind of question; the first one listed is alerted.

    A kind with nobody listed goes to the duty worker."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    legal: list[Worker] = Field(default_factory=list, max_length=20)
    psych: list[Worker] = Field(default_factory=list, max_length=20)
    service: list[Worker] = Field(default_factory=list, max_length=20)

    def first(self, domain: str) -> Worker | None:
        people = {"legal": self.legal, "psych": self.psych, "service": self.service}.get(domain) or []
        return people[0] if people else None


_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class OfficeHours(BaseModel):
    """When the residents' committee office is open on working days, and its phone: a working-day ticket
    deadline ends at `closes`, and "居委会几点上班/电话" is answered from here."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    opens: str = Field(default="08:30", pattern=_CLOCK)
    closes: str = Field(default="17:30", pattern=_CLOCK)
    phone: str | None = Field(default=None, min_length=3, max_length=30)

    @property
    def closing_time(self) -> time:
        hour, minute = self.closes.split(":")
        return time(int(hour), int(minute))


class CommunityConfig(BaseModel):
    """Everything about a community but its identity: what `Community.config` stores."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Keys of a stored config that did not validate and are read as absent (see spec_of).
    _unreadable: frozenset[str] = PrivateAttr(default=frozenset())
    gas_hotline: str | None = Field(default=None, max_length=20)
    # Required in a community file (parse_community_file checks it); a stored row may lack it.
    duty: Worker | None = None
    consultants: Consultants = Field(default_factory=Consultants)
    # Tickets: where they go and how urgent they are. All optional: without them, the duty worker gets all.
    buildings: list[BuildingId] = Field(default_factory=list, max_length=1000)
    grids: list[Grid] = Field(default_factory=list, max_length=200)
    teams: dict[str, Worker] = Field(default_factory=dict)
    escalation: Escalation | None = None
    urgency: list[UrgencyRuleSpec] | None = Field(default=None, max_length=100)
    ticket_template_id: str | None = Field(default=None, max_length=64)
    activity_template_id: str | None = Field(default=None, max_length=64)
    # Volunteering: points rules (the defaults apply when absent) and the rewards catalogue.
    points_rules: PointsRules = Field(default_factory=PointsRules)
    rewards: list[RewardSpec] = Field(default_factory=list, max_length=200)
    # 一户一档 and 报平安: the tags a household member may carry, the template of the daily prompt outside the
    # 48 h window, and the escalation times (handlers/wellbeing/rules.py).
    household_tags: list[ShortText] = Field(default_factory=lambda: list(DEFAULT_TAGS), max_length=50)
    checkin_template_id: str | None = Field(default=None, max_length=64)
    safecheck: SafecheckRules = Field(default_factory=SafecheckRules)
    # Taking part: households that must support a proposal before it goes on the council's agenda, and
    # the template message that tells residents outside the 48 h window what became of it.
    proposal_threshold: int = Field(default=20, ge=1, le=100_000)
    participation_template_id: str | None = Field(default=None, max_length=64)
    # The public notice board (notice period, budget split) and the satisfaction loop (defaults when absent).
    board: BoardRules = Field(default_factory=BoardRules)
    satisfaction: SatisfactionRules = Field(default_factory=SatisfactionRules)
    office_hours: OfficeHours = Field(default_factory=OfficeHours)


class CommunitySpec(CommunityConfig):
    """One community of a community file."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")
    name: str = Field(min_length=2, max_length=200)
    qr_scene: str | None = Field(default=None, min_length=1, max_length=64)


_IDENTITY = frozenset({"code", "name", "qr_scene"})


def _ticket_mistakes(community: CommunitySpec, index: int) -> list[tuple[tuple[int | str, ...], str]]:
    """Mistakes pydantic cannot see: no duty worker, unknown categories, bad patterns, buildings in two grids."""
    at: tuple[int | str, ...] = ("communities", index)
    mistakes: list[tuple[tuple[int | str, ...], str]] = []
    if community.duty is None:
        mistakes.append(((*at, "duty"), "Field required"))
    known = ", ".join(CATEGORIES)
    for category in community.teams:
        if category not in CATEGORIES:
            mistakes.append(
                ((*at, "teams", category), f"unknown category {category!r}{_suggest(category, CATEGORIES)}")
            )
    rewards = [reward.name for reward in community.rewards]
    for r, reward in enumerate(community.rewards):
        if reward.name in rewards[:r]:
            mistakes.append(((*at, "rewards", r, "name"), f"reward {reward.name!r} listed twice"))
    for r, rule in enumerate(community.urgency or []):
        for w, word in enumerate(rule.words):
            try:
                re.compile(word)
            except re.error as exc:
                mistakes.append(((*at, "urgency", r, "words", w), f"not a valid pattern: {exc}"))
        for c, category in enumerate(rule.categories):
            if category not in CATEGORIES:
                mistakes.append(
                    ((*at, "urgency", r, "categories", c), f"unknown category {category!r} (known: {known})")
                )
    owner: dict[str, str] = {}
    listed = set(community.buildings)
    for g, grid in enumerate(community.grids):
        if any(other.code == grid.code for other in community.grids[:g]):
            mistakes.append(((*at, "grids", g, "code"), f"grid code {grid.code!r} used twice"))
        for b, building in enumerate(grid.buildings):
            where = (*at, "grids", g, "buildings", b)
            if listed and building not in listed:
                mistakes.append((where, f"building {building!r} is not in this community's buildings list"))
            elif building in owner:
                mistakes.append((where, f"building {building!r} is already in grid {owner[building]!r}"))
            owner.setdefault(building, grid.code)
    return mistakes


class CommunityFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    communities: list[CommunitySpec] = Field(min_length=1, max_length=500)


# --- reading the YAML ---------------------------------------------------------------------------------


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key written twice in one mapping is an error, not "last wins"."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                line = first_line.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # an unhashable key; the constructor below names it
            if line != key_node.start_mark.line + 1:
                raise DuplicateKeyError(
                    problem=f"duplicate key {key!r} (first on line {line})", problem_mark=key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from a single parse."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def _line_of(node: yaml.Node, path: tuple[int | str, ...], *, key: bool = False) -> int:
    """The 1-based line of the YAML node at a pydantic error location (as deep as it exists); with `key`,
    the line of the last mapping key on the path rather than of its value."""
    current = node
    for depth, part in enumerate(path, start=1):
        if isinstance(current, yaml.MappingNode):
            match = next(((k, v) for k, v in current.value if k.value == str(part)), None)
            if match is None:
                break
            if key and depth == len(path):
                return int(match[0].start_mark.line) + 1
            current = match[1]
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
    return int(current.start_mark.line) + 1


def _unwrap(annotation: Any) -> Any:
    """The model, list or dict type inside Optional[...] or Annotated[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _model_at(path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at `path` in a community file."""
    current: Any = CommunityFile
    for part in path:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif origin is list and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict:
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _suggest(word: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def _explain(error: Any) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden" and loc:
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        return f"unknown key {loc[-1]!r}" + (_suggest(str(loc[-1]), known) if known else "")
    return str(error["msg"])


def parse_community_file(path: Path) -> CommunityFile:
    text = path.read_text(encoding="utf-8")
    try:
        node, data = _read_yaml(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark else ""
        raise CommunityFileError(f"{path}: {line}{exc.problem}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise CommunityFileError(f"{path}: {line}not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if node is None:
        raise CommunityFileError(f"{path}: the file is empty")
    try:
        parsed = CommunityFile.model_validate(data)
    except ValidationError as exc:
        found = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            at = _line_of(node, loc, key=error["type"] == "extra_forbidden")
            found.append((at, f"{path}: line {at}: {'.'.join(map(str, loc))}: {_explain(error)}"))
        raise CommunityFileError("\n".join(message for _, message in sorted(found, key=lambda f: f[0]))) from exc
    codes = [c.code for c in parsed.communities]
    scenes = [c.qr_scene for c in parsed.communities if c.qr_scene]
    for values, what in ((codes, "code"), (scenes, "qr_scene")):
        duplicates = {v for v in values if values.count(v) > 1}
        if duplicates:
            raise CommunityFileError(f"{path}: {what} used twice: {', '.join(sorted(duplicates))}")
    mistakes = [m for i, c in enumerate(parsed.communities) for m in _ticket_mistakes(c, i)]
    if mistakes:
        raise CommunityFileError(
            "\n".join(
                f"{path}: line {_line_of(node, loc, key=True)}: {'.'.join(map(str, loc))}: {msg}"
                for loc, msg in mistakes
            )
        )
    return parsed


def load_communities(session: Session, spec: CommunityFile) -> list[str]:
    """Write every community of a checked file, and its rewards catalogue, in the caller's transaction.

    A reward's stock is seeded when the item first appears; afterwards the database counts it (see
    storage.rewards.sync_rewards), so loading the file again never resets what residents redeemed.
    """
    loaded = []
    for community in spec.communities:
        row = repo.upsert_community(
            session,
            code=community.code,
            name=community.name,
            qr_scene=community.qr_scene,
            config=community.model_dump(mode="json", exclude=set(_IDENTITY)),
        )
        sync_catalogue(session, row, community)
        loaded.append(community.code)
    return loaded


def sync_catalogue(session: Session, community: Community, spec: CommunityConfig) -> None:
    """Bring the community's rewards table in step with its file."""
    if "rewards" in spec._unreadable:
        return  # a stored catalogue we cannot read must not deactivate every reward
    items = [reward.model_dump() for reward in spec.rewards]
    rrepo.sync_rewards(session, community_id=community.id, items=items)


# --- stored communities -------------------------------------------------------------------------------

# Validated configs by content: a message reads its community's spec without validating it again.
_SPECS: dict[tuple[int, str, str, str | None, str], CommunitySpec] = {}
_MAX_SPECS = 512


def spec_of(community: Community) -> CommunitySpec:
    """The typed spec of a stored community, validated once per distinct config.

    A stored config that no longer validates (written by an older version, or by hand) is not fatal for
    the community's residents: the keys in error are logged once and read as absent.
    """
    config = community.config or {}
    text = json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    key = (community.id, community.code, community.name, community.qr_scene, text)
    spec = _SPECS.get(key)
    if spec is None:
        spec = _validate_stored(community, config)
        if len(_SPECS) >= _MAX_SPECS:
            _SPECS.clear()
        _SPECS[key] = spec
    return spec


def _validate_stored(community: Community, config: dict[str, Any]) -> CommunitySpec:
    identity = {"code": community.code, "name": community.name, "qr_scene": community.qr_scene}
    data = {k: v for k, v in config.items() if k not in _IDENTITY}
    try:
        return _with_identity(CommunityConfig.model_validate(data), identity)
    except ValidationError as exc:
        bad = frozenset(str(error["loc"][0]) for error in exc.errors() if error["loc"])
        log.error(
            "community %s: stored config does not validate; reading %s as absent: %s",
            community.code,
            ", ".join(sorted(bad)) or "all of it",
            exc,
        )
    kept = {k: v for k, v in data.items() if k not in bad}
    try:
        config_spec = CommunityConfig.model_validate(kept)
    except ValidationError:
        config_spec, bad = CommunityConfig(), frozenset(data)
    spec = _with_identity(config_spec, identity)
    spec._unreadable = bad
    return spec


def _with_identity(config: CommunityConfig, identity: dict[str, Any]) -> CommunitySpec:
    # The identity columns were checked when the file was loaded; the config fields are validated already.
    fields = {name: getattr(config, name) for name in CommunityConfig.model_fields}
    return CommunitySpec.model_construct(_fields_set=config.model_fields_set, **fields, **identity)


def community_spec(community: Community | None) -> CommunitySpec | None:
    """`spec_of` for a community that may not be known yet."""
    return spec_of(community) if community is not None else None
