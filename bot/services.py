"""The long-lived pieces a process builds once: database, classifier, dispatcher (and later, indexes)."""

from __future__ import annotations

import threading
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.dispatcher import Dispatcher
from bot.knowledge import collections_from_setting, intent_model_for, knowledge_index_for
from bot.settings import Settings
from handlers import build_router
from intents.classifier import RuleFirstClassifier
from knowledge_base.index import KnowledgeIndex
from storage.db import make_engine, make_sessionmaker


class Services:
    """Cheap to construct; heavy parts load on first use or in warm_up()."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self._lock = threading.Lock()

    @cached_property
    def classifier(self) -> RuleFirstClassifier:
        return RuleFirstClassifier(intent_model_for(self.settings.embedding_model, self.settings.data_dir))

    @cached_property
    def knowledge(self) -> KnowledgeIndex:
        return knowledge_index_for(
            self.settings.embedding_model,
            self.settings.data_dir,
            collections_from_setting(self.settings.kb_collections),
        )

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(build_router(), self.classifier)

    def warm_up(self) -> None:
        with self._lock:
            _ = self.dispatcher
            _ = self.knowledge

    def close(self) -> None:
        self.engine.dispose()
