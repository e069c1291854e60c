"""What handlers need from the process around them, as Protocols; `bot/` supplies the real objects.

Handlers never import `bot`: the settings object, the knowledge index and the dispatcher reach them
through these narrow interfaces, so a test can hand in a plain object instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from handlers.base import Context
    from handlers.messages import Inbound, Reply
    from knowledge_base.entries import Entry
    from knowledge_base.index import Hit


class Settings(Protocol):
    """The settings handlers read (bot.settings.Settings has them all)."""

    @property
    def secret_key(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def dialogue_ttl_minutes(self) -> int: ...

    @property
    def ticket_template_id(self) -> str: ...

    @property
    def activity_template_id(self) -> str: ...

    @property
    def public_url(self) -> str: ...


class Knowledge(Protocol):
    """The knowledge base as handlers search it (bot.knowledge.LiveKnowledge; a KnowledgeIndex also fits)."""

    def search(self, query: str, k: int = 5, domain: str | None = None, community: str | None = None) -> list[Hit]:
        """The best entries for the query; with `community` (a code), other communities' own entries are left out."""
        ...

    def get(self, entry_id: str, collection: str | None = None) -> Entry | None: ...


class Runtime(Protocol):
    """The long-lived pieces of the process a handler may use."""

    @property
    def settings(self) -> Settings: ...

    @property
    def knowledge(self) -> Knowledge: ...

    def answer(self, ctx: Context, msg: Inbound) -> Reply:
        """Route a message as if the resident had sent it (a menu click standing for typed words)."""
        ...
