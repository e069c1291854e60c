"""Community files: who the communities are, their QR scenes, duty workers, grids, teams and escalation.

`load_community_file` validates the whole file first and names the line of any mistake; nothing is
written unless every community in it is valid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from handlers.tickets.rules import CATEGORIES
from handlers.volunteering.rules import PointsRules, RewardSpec
from storage import repositories as repo


class CommunityFileError(ValueError):
    pass


class Worker(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    wecom_userid: str = Field(min_length=1)
    phone: str | None = None


# Building numbers are written bare in YAML (`buildings: [1, 2, 3]`); we keep them as text ("3", "A").
BuildingId = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)]


class Grid(BaseModel):
    """A grid (网格): a few buildings and the worker responsible for them."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    worker: Worker
    buildings: list[BuildingId] = Field(min_length=1)


class Escalation(BaseModel):
    """Who hears about a ticket when the responsible worker misses the deadline, in order."""

    model_config = ConfigDict(extra="forbid")
    leader: Worker
    street: Worker | None = None


class UrgencyRuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    colour: Literal["red", "yellow", "blue"]
    words: list[str] = Field(min_length=1)
    categories: list[str] = Field(default_factory=list)


class CommunitySpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")
    name: str = Field(min_length=2)
    qr_scene: str | None = None
    gas_hotline: str | None = None
    duty: Worker
    # Tickets: where they go and how urgent they are. All optional: without them, the duty worker gets all.
    buildings: list[BuildingId] = Field(default_factory=list)
    grids: list[Grid] = Field(default_factory=list)
    teams: dict[str, Worker] = Field(default_factory=dict)
    escalation: Escalation | None = None
    urgency: list[UrgencyRuleSpec] | None = None
    ticket_template_id: str | None = None
    activity_template_id: str | None = None
    # Volunteering: points rules (the defaults apply when absent) and the rewards catalogue.
    points_rules: PointsRules = Field(default_factory=PointsRules)
    rewards: list[RewardSpec] = Field(default_factory=list)


def _ticket_mistakes(community: CommunitySpec, index: int) -> list[tuple[tuple[int | str, ...], str]]:
    """Mistakes pydantic cannot see: unknown categories, bad patterns, buildings in two grids."""
    at: tuple[int | str, ...] = ("communities", index)
    mistakes: list[tuple[tuple[int | str, ...], str]] = []
    known = ", ".join(CATEGORIES)
    for category in community.teams:
        if category not in CATEGORIES:
            mistakes.append(((*at, "teams", category), f"unknown category {category!r} (known: {known})"))
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
    model_config = ConfigDict(extra="forbid")
    communities: list[CommunitySpec] = Field(min_length=1)


def _line_of(node: yaml.Node, path: tuple[int | str, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (as deep as it exists)."""
    current = node
    for part in path:
        if isinstance(current, yaml.MappingNode):
            match = next((v for k, v in current.value if k.value == part), None)
            if match is None:
                break
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
    return current.start_mark.line + 1


def parse_community_file(path: Path) -> CommunityFile:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise CommunityFileError(f"{path}: {line}not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if node is None:
        raise CommunityFileError(f"{path}: the file is empty")
    try:
        parsed = CommunityFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            where = ".".join(str(p) for p in loc)
            lines.append(f"{path}: line {_line_of(node, loc)}: {where}: {error['msg']}")
        raise CommunityFileError("\n".join(lines)) from exc
    codes = [c.code for c in parsed.communities]
    scenes = [c.qr_scene for c in parsed.communities if c.qr_scene]
    for values, what in ((codes, "code"), (scenes, "qr_scene")):
        duplicates = {v for v in values if values.count(v) > 1}
        if duplicates:
            raise CommunityFileError(f"{path}: {what} used twice: {', '.join(sorted(duplicates))}")
    mistakes = [m for i, c in enumerate(parsed.communities) for m in _ticket_mistakes(c, i)]
    if mistakes:
        raise CommunityFileError(
            "\n".join(f"{path}: line {_line_of(node, loc)}: {'.'.join(map(str, loc))}: {msg}" for loc, msg in mistakes)
        )
    return parsed


def load_communities(session: Session, spec: CommunityFile) -> list[str]:
    loaded = []
    for community in spec.communities:
        repo.upsert_community(
            session,
            code=community.code,
            name=community.name,
            qr_scene=community.qr_scene,
            config=community.model_dump(mode="json", exclude={"code", "name", "qr_scene"}),
        )
        loaded.append(community.code)
    return loaded
