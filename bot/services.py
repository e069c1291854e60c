"""The long-lived pieces a process builds once: database, classifier, dispatcher, knowledge index.

`Services` is the `handlers.runtime.Runtime` that handlers see through their Context.
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clients import scene_qr_maker
from bot.dispatcher import Dispatcher
from bot.knowledge import LiveKnowledge, collections_from_setting, intent_model_for
from bot.settings import Settings
from handlers.base import Context
from handlers.clock import Clock, system_clock
from handlers.messages import Inbound, Reply
from handlers.router import build_router
from handlers.volunteering.qr import use_scene_qr
from intents.classifier import RuleFirstClassifier
from storage.db import make_engine, make_sessionmaker


class Services:
    """Cheap to construct; heavy parts load on first use or in warm_up()."""

    def __init__(self, settings: Settings, engine: Engine | None = None, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        # Every `now` the webhook, the outbox and the scheduler hand to handlers comes from here.
        self.clock = clock
        self.engine = engine or make_engine(settings.database_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self._lock = threading.Lock()
        self.live_knowledge = LiveKnowledge(
            self.sessions,
            embedding_model=settings.embedding_model,
            data_dir=settings.data_dir,
            collections=collections_from_setting(settings.kb_collections),
            check_seconds=settings.kb_check_seconds,
        )

    @cached_property
    def classifier(self) -> RuleFirstClassifier:
        return RuleFirstClassifier(intent_model_for(self.settings.embedding_model, self.settings.data_dir))

    @cached_property
    def knowledge(self) -> LiveKnowledge:
        return self.live_knowledge

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(build_router(), self.classifier)

    def answer(self, ctx: Context, msg: Inbound) -> Reply:
        return self.dispatcher.dispatch(ctx, msg).reply

    def redraw_checkin_qr(self, *, activity_id: int, now: datetime) -> str | None:
        """Make a committed activity's QR a WeChat scene code when the official account allows (see
        handlers.volunteering.qr.use_scene_qr); the new path, or None."""
        return use_scene_qr(
            self.sessions,
            data_dir=self.settings.data_dir,
            scene_qr=scene_qr_maker(self.settings, self.sessions),
            activity_id=activity_id,
            now=now,
        )

    def warm_up(self) -> None:
        with self._lock:
            _ = self.dispatcher
            self.live_knowledge.warm_up()
            self.live_knowledge.start()  # every few seconds: has another server changed the knowledge base?

    def close(self) -> None:
        self.live_knowledge.stop()
        self.engine.dispose()
