"""The FastAPI application factory. Nothing heavy happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot import metrics, webhook, wecom
from bot.api.deps import AuditStatusMiddleware
from bot.api.routes import include_api
from bot.board import include_board
from bot.console import include_console
from bot.health import include_health
from bot.limits import RequestGuard
from bot.logs import ContextThreadPoolExecutor, RequestIdMiddleware
from bot.outbox import OutboxWorker
from bot.scheduler import scheduled_jobs
from bot.services import Services
from bot.settings import Settings, get_settings
from bot.tryit import include_tryit
from bot.wechat import Codec

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.warm_up()
        worker = OutboxWorker(services) if settings.embedded_worker else None
        if worker is not None:
            worker.periodic.extend(scheduled_jobs(services))
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            services.live_knowledge.stop()
            app.state.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="shegong", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    # Runs each call in its caller's context, so a handler's log lines carry the request's id.
    app.state.executor = ContextThreadPoolExecutor(max_workers=8, thread_name_prefix="handler")
    app.state.codec = Codec.from_settings(
        settings.wechat_token, settings.wechat_app_id, settings.wechat_aes_key, settings.wechat_aes_key_previous
    )
    app.add_middleware(RequestGuard)  # innermost: after the audit status and the request id are in place
    app.add_middleware(AuditStatusMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(webhook.router)
    app.include_router(wecom.router)
    app.include_router(metrics.router)  # GET /metrics, for Prometheus
    include_api(app)
    include_console(app)  # after the API: its error pages wrap the API's handlers
    include_tryit(app, settings)  # `/`: the try-it page, in development only
    include_board(app)  # the public notice board at /board/<code>, no login

    include_health(app, services)

    return app
