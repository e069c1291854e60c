"""The long-lived pieces a process builds once: database, classifier, dispatcher (and later, indexes)."""

from __future__ import annotations

import threading
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.dispatcher import Dispatcher
from bot.settings import Settings
from handlers import build_router
from intents.classifier import RuleFirstClassifier
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
        return RuleFirstClassifier()

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(build_router(), self.classifier)

    def warm_up(self) -> None:
        with self._lock:
            _ = self.dispatcher

    def close(self) -> None:
        self.engine.dispose()
