"""Community files: who the communities are, their QR scenes, duty workers and (later) grids and teams.

`load_community_file` validates the whole file first and names the line of any mistake; nothing is
written unless every community in it is valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from storage import repositories as repo


class CommunityFileError(ValueError):
    pass


class Worker(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    wecom_userid: str = Field(min_length=1)
    phone: str | None = None


class CommunitySpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")
    name: str = Field(min_length=2)
    qr_scene: str | None = None
    gas_hotline: str | None = None
    duty: Worker


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
