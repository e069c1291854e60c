"""The conversation stories as typed data: every file under stories/ read strictly (see README.md).

A key the format does not know, a key written twice, a step with no action or two, and a name used twice
anywhere are errors that name the file and the story, so a typo never turns a check into no check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

HERE = Path(__file__).resolve().parent
STORIES = HERE / "stories"
KNOWN_FAILURES = HERE / "known_failures.yaml"

CATEGORIES = Literal[
    "lighting",
    "sanitation",
    "lift",
    "water_leak",
    "noise",
    "parking",
    "facilities",
    "safety",
    "dispute",
    "suggestion",
    "other",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplyCheck(Strict):
    contains: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    max_chars: int | None = Field(default=None, gt=0)

    def failures(self, reply: str) -> list[str]:
        """What the reply misses, in words a reader of a failed story understands."""
        found: list[str] = []
        missing = [s for s in self.contains if s not in reply]
        if missing:
            found.append(f"lacks {missing}")
        if self.any_of and not any(s in reply for s in self.any_of):
            found.append(f"has none of {list(self.any_of)}")
        present = [s for s in self.not_contains if s in reply]
        if present:
            found.append(f"must not contain {present}")
        if self.max_chars is not None and len(reply) > self.max_chars:
            found.append(f"is {len(reply)} characters, more than {self.max_chars}")
        return found


class Location(Strict):
    lat: float
    lng: float
    label: str


class WorkerSays(Strict):
    userid: str = Field(min_length=1)
    say: str = Field(min_length=1)


class Wait(Strict):
    minutes: int = Field(gt=0)


ACTIONS = ("say", "voice", "photo", "location", "worker", "wait")


class Step(Strict):
    say: str | None = None
    voice: str | None = None
    photo: Literal[True] | None = None
    location: Location | None = None
    worker: WorkerSays | None = None
    wait: Wait | None = None
    reply: ReplyCheck | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [name for name in ACTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a step has exactly one of {', '.join(ACTIONS)}; this one has {given or 'none'}")
        if self.wait is not None and self.reply is not None:
            raise ValueError("a wait step has no reply to check")
        return self

    @property
    def action(self) -> str:
        return next(name for name in ACTIONS if getattr(self, name) is not None)


class ResidentSpec(Strict):
    community: Literal["heping", "xingfu", "none", "unasked"] = "heping"
    address: str | None = None


class TicketCheck(Strict):
    colour: Literal["red", "yellow", "blue"] | None = None
    category: CATEGORIES | None = None
    place_contains: str | None = None


class Expect(Strict):
    alerts: dict[Literal["red", "yellow"], int] = Field(default_factory=dict)
    tickets: int | None = Field(default=None, ge=0)
    ticket: TicketCheck | None = None
    consultations: int | None = Field(default=None, ge=0)
    no_red_alert: Literal[True] | None = None


class Story(Strict):
    name: str = Field(min_length=1)
    covers: tuple[str, ...] = Field(min_length=1)
    resident: ResidentSpec = ResidentSpec()
    steps: tuple[Step, ...] = Field(min_length=1)
    expect: Expect = Expect()
    source: str = ""  # the file it came from, filled by the loader


class StoryFile(Strict):
    stories: tuple[dict[str, Any], ...] = Field(min_length=1)


class StoryError(Exception):
    """A story file that does not follow the format; the message names the file and the story."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; here the second one is an error."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} written twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise StoryError(f"{path.name}: {exc}") from exc


def load_file(path: Path) -> list[Story]:
    data = read_yaml(path)
    try:
        raw = StoryFile.model_validate(data)
    except ValidationError as exc:
        raise StoryError(f"{path.name}: {exc}") from exc
    stories = []
    for position, item in enumerate(raw.stories, start=1):
        label = item.get("name") if isinstance(item, dict) else None
        try:
            stories.append(Story.model_validate({**item, "source": path.name}))
        except ValidationError as exc:
            raise StoryError(f"{path.name}, story {position} ({label or 'no name'}): {exc}") from exc
    return stories


def load_stories(folder: Path = STORIES) -> list[Story]:
    """Every story of every file, in file order; names unique across files."""
    stories: list[Story] = []
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        for story in load_file(path):
            if story.name in where:
                raise StoryError(f"{path.name}: story name {story.name!r} already used in {where[story.name]}")
            where[story.name] = path.name
            stories.append(story)
    if not stories:
        raise StoryError(f"no stories under {folder}")
    return stories


def load_known_failures(names: set[str], path: Path = KNOWN_FAILURES) -> dict[str, str]:
    """Story name -> the issue point that will make it pass. Every name must be a story's."""
    data = read_yaml(path) or {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise StoryError(f'{path.name}: a map of story name to issue point (e.g. "11.4")')
    unknown = sorted(set(data) - names)
    if unknown:
        raise StoryError(f"{path.name}: no story is called {unknown}")
    return dict(data)
