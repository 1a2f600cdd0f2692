"""The application factory: wires settings, the pool, handlers and routes together."""

from __future__ import annotations

import gc
import secrets
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from blacksheep import Application
from blacksheep.middlewares import MiddlewareCategory

from api import budget, consistency, logs, metrics
from api.auth.service import Authenticator
from api.auth.throttle import LoginThrottle
from api.cors import make_cors_middleware
from api.export import StreamSlots
from api.fairshare import PrincipalSlots
from api.handlers.identity import IdentityHandlers
from api.handlers.items import ItemHandlers
from api.handlers.site import SiteHandlers
from api.handlers.static import StaticFiles
from api.idempotency import Idempotency
from api.middleware import make_middleware
from api.openapi import build_openapi
from api.routes import register as register_routes
from api.routing import Router, fallback_for
from api.settings import Settings
from api.sweeper import Sweeper
from queries import items
from queries.coalesce import PointReads
from queries.health import ReadinessProbe
from queries.pool import create_pool, session_settings
from queries.replicas import Replica, ReplicaSet, Target, replica_name


@dataclass
class AppState:
    """What the handlers share; filled in at start-up."""

    settings: Settings
    signing_key: str = ""  # SECRET_KEY, or the random key of a development process
    pool: asyncpg.Pool | None = None
    authenticator: Authenticator | None = None
    throttle: LoginThrottle | None = None
    sweeper: Sweeper | None = None
    readiness: ReadinessProbe | None = None
    point_reads: PointReads | None = None
    replicas: ReplicaSet | None = None
    exports: StreamSlots | None = None  # the exports in progress (api/export.py)
    imports: StreamSlots | None = None  # the imports in progress (api/importer.py)
    shutting_down: bool = False


def create_app(settings: Settings) -> Application:
    logs.configure(settings.log_level, console=logs.wants_console(settings.environment))
    log = logs.get_logger("api")
    # Its own Router: BlackSheep's default router is shared by every app in the process.
    router = Router()
    app = Application(router=router, show_error_details=False)
    # Without SECRET_KEY (development only: Settings refuses it elsewhere) a random key per
    # process: nothing signed with it can be forged, nor outlives the process.
    secret_key = settings.secret_key or secrets.token_urlsafe(32)
    if not settings.secret_key:
        log.warning(
            "no SECRET_KEY set: signing with a random key that lasts as long as the process"
        )
    state = AppState(settings, secret_key)
    openapi = msgspec.json.encode(build_openapi())
    static_dir = Path(settings.static_dir)
    request_metrics = metrics.RequestMetrics() if settings.metrics_enabled else None
    publisher = metrics.Publisher()
    slots = PrincipalSlots(settings.principal_max_concurrency)

    async def start(application: Application) -> None:
        pool = await _pool(settings, settings.database_url, min_size=settings.db_pool_min_size)
        state.pool = pool
        state.readiness = ReadinessProbe(
            settings.database_url,
            timeout=min(settings.db_acquire_timeout_ms, settings.request_timeout_ms) / 1000,
            server_settings={
                **session_settings(
                    settings.db_statement_timeout_ms, settings.db_session_parameters
                ),
                "application_name": "items-api-readiness",
            },
            statement_cache_size=settings.db_statement_cache_size,
        )
        auth = Authenticator(
            pool, secret_key, settings.auth_cache_seconds, settings.api_key_max_ttl_days, slots
        )
        state.authenticator = auth
        throttle = LoginThrottle(
            pool,
            settings.login_max_failures,
            settings.login_max_failures_per_address,
            settings.login_window_seconds,
        )
        state.throttle = throttle
        state.sweeper = Sweeper(pool, settings.sweep_seconds, settings.login_window_seconds)
        state.sweeper.start()
        if settings.coalesce_reads:
            state.point_reads = _point_reads(settings, pool)
        wrap = None
        if settings.replica_urls:
            state.replicas = await _open_replicas(settings, Target(pool, state.point_reads))
            wrap = consistency.wrapper(consistency.TokenCodec(secret_key), state.replicas)
        item_handlers = ItemHandlers(
            pool,
            auth,
            settings.max_body_bytes,
            Idempotency(pool, settings.idempotency_ttl_seconds),
            settings.max_response_bytes,
            settings.items_max_per_user,
            state.point_reads,
            state.replicas,
            settings.request_timeout_ms,
            settings.import_max_bytes,
        )
        state.exports = item_handlers.exports
        state.imports = item_handlers.imports
        register_routes(
            application.router,
            item_handlers,
            IdentityHandlers(
                pool,
                auth,
                throttle,
                settings.access_token_ttl_seconds,
                settings.max_body_bytes,
                timedelta(days=settings.api_key_max_ttl_days),
                settings.api_keys_max_per_user,
            ),
            SiteHandlers(
                pool,
                state.readiness,
                lambda: state.shutting_down,
                openapi,
                static_dir,
                state.replicas,
            ),
            StaticFiles(static_dir),
            *([publisher] if request_metrics is not None else []),
            wrap=wrap,
        )
        if request_metrics is not None:
            request_metrics.attach(application.router)
            publisher.start(pool, state.replicas)
        # BlackSheep applied the registered routes just before on_start; apply the new ones.
        application.router.apply_routes()
        # Everything allocated so far (modules, routes, the pool) lives as long as the process:
        # move it out of the collector's reach, so that the periodic full collections only walk
        # what requests leave behind (benchmarks/README.md, "Why the code is as it is").
        gc.collect()
        gc.freeze()
        # Collect the young generation every 10,000 net allocations instead of 700. Objects of
        # requests in flight survive young collections and get promoted, so the default's cost
        # grows with concurrency (benchmarks/README.md, "Why the code is as it is"). Request data is
        # freed by reference counting; cycles are rare and still collected.
        gc.set_threshold(10_000, 20, 100)
        _notice_shutdown_signals(state)
        log.info(
            "started", pool_max_size=settings.db_pool_max_size, environment=settings.environment
        )

    async def stop(application: Application) -> None:
        state.shutting_down = True
        if state.readiness is not None:
            await state.readiness.close()
        if request_metrics is not None:
            await publisher.stop()
        if state.sweeper is not None:
            await state.sweeper.stop()
        if state.throttle is not None:  # its attempts under way settle with the pool still open
            await state.throttle.close()
        if state.replicas is not None:
            await _close_replicas(state.replicas)
        if state.point_reads is not None:
            await state.point_reads.close()
        if state.pool is not None:
            await state.pool.close()
        log.info("stopped")
        logs.flush()  # the writer thread is a daemon: hand it everything before the process ends

    app.on_start += start
    app.on_stop += stop
    if settings.cors_origins:
        app.middlewares.append(
            make_cors_middleware(app, settings.cors_origins, settings.cors_max_age_seconds),
            MiddlewareCategory.INIT,  # where BlackSheep's use_cors puts it: before the others
        )
    app.middlewares.append(
        make_middleware(
            access_log=settings.access_log,
            server_timing=settings.server_timing,
            request_timeout_ms=settings.request_timeout_ms,
            max_concurrent_requests=settings.max_concurrent_requests,
            metrics=request_metrics,
            slots=slots,
        )
    )
    router.fallback = fallback_for(router)
    app.state = state  # type: ignore[attr-defined]
    return app


async def _pool(
    settings: Settings,
    url: str,
    *,
    min_size: int,
    read_only: bool = False,
    connect_timeout_s: float = 60.0,
) -> asyncpg.Pool:
    """A pool of the service's connections to `url`, with the settings every pool shares."""
    return await create_pool(
        url,
        min_size=min_size,
        max_size=settings.db_pool_max_size,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        statement_cache_size=settings.db_statement_cache_size,
        session_parameters=settings.db_session_parameters,
        # Timed connections feed Server-Timing and the statement-duration metrics.
        timed=settings.server_timing or settings.metrics_enabled,
        acquire_timeout_s=settings.db_acquire_timeout_ms / 1000,
        wait_limit=budget.acquire_wait,
        after_wait=budget.raise_if_abandoned,
        read_only=read_only,
        connect_timeout_s=connect_timeout_s,
    )


def _point_reads(settings: Settings, pool: asyncpg.Pool) -> PointReads:
    return PointReads(
        pool,
        items.GET_BY_IDS,
        max_batch=settings.coalesce_max_batch,
        runners=settings.coalesce_runners,
        deadline=budget.deadline,
        acquire_timeout_s=settings.db_acquire_timeout_ms / 1000,
    )


async def _open_replicas(settings: Settings, primary: Target) -> ReplicaSet:
    """A read-only pool (and point reads) per replica, and the pollers of their lag."""
    replicas = []
    for url in settings.replica_urls:
        replica = Replica(replica_name(url), url)
        replica.pool = await _pool(
            settings,
            url,
            min_size=0,
            read_only=True,
            connect_timeout_s=settings.db_acquire_timeout_ms / 1000,
        )
        if settings.coalesce_reads:
            replica.point_reads = _point_reads(settings, replica.pool)
        replicas.append(replica)
    probe_settings = {"application_name": "items-api-replicas"}
    replica_set = ReplicaSet(
        primary,
        replicas,
        max_lag_s=settings.replica_max_lag_ms / 1000,
        wait_s=settings.replica_wait_ms / 1000,
        primary_dsn=settings.database_url,
        probe_settings=probe_settings,
        statement_timeouts=settings.db_session_parameters,
    )
    replica_set.start()
    return replica_set


async def _close_replicas(replica_set: ReplicaSet) -> None:
    await replica_set.close()
    for replica in replica_set.replicas:
        if replica.point_reads is not None:
            await replica.point_reads.close()
        await replica.pool.close()


def _notice_shutdown_signals(state: AppState) -> None:
    """Mark the instance as shutting down (/readyz answers 503) as soon as uvicorn's SIGTERM or
    SIGINT handler is called, before it drains the open connections; uvicorn installs its
    handlers with signal.signal before the app starts, and restores the previous ones itself."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(number)
        if not callable(previous):
            continue

        def handler(sig: int, frame: Any, previous: Any = previous) -> None:
            state.shutting_down = True
            previous(sig, frame)

        signal.signal(number, handler)
