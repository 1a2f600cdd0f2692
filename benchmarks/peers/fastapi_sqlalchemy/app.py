"""The peer "the way most teams would": FastAPI + SQLAlchemy 2.0 async ORM + Pydantic v2 on uvicorn.

Same endpoints, schema, indexes, pool size and API-key authentication (with the same 10 s cache of
live keys) as the items API, written idiomatically: one AsyncSession per request through a
dependency, ORM objects, Pydantic models as `response_model`. Nothing is tuned against the
benchmark beyond what the SQLAlchemy docs recommend (`expire_on_commit=False`, `eager_defaults`
so server-generated columns come back with RETURNING instead of a second SELECT).

Run: DATABASE_URL=postgresql://... SECRET_KEY=... \
    uvicorn benchmarks.peers.fastapi_sqlalchemy.app:app
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from sqlalchemy import (
    Boolean,
    DateTime,
    FetchedValue,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/items")
POOL_SIZE = int(os.environ.get("DB_POOL_MAX_SIZE", "10"))
SECRET_KEY = os.environ.get("SECRET_KEY", "development-only-secret-key-change-me-0123456789")
AUTH_CACHE_SECONDS = 10
PREFIX = "/api/v1/items"

engine = create_async_engine(
    DATABASE_URL.replace("postgresql://", "postgresql+asyncpg://", 1),
    pool_size=POOL_SIZE,
    max_overflow=0,
    pool_pre_ping=False,
    connect_args={"server_settings": {"application_name": "peer-fastapi-sqlalchemy", "jit": "off"}},
)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


# ---------------------------------------------------------------- ORM models (same schema)
class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    disabled: Mapped[bool] = mapped_column(Boolean)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Item(Base):
    __tablename__ = "items"
    __mapper_args__: ClassVar[dict[str, Any]] = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(
        PG_UUID(as_uuid=True), primary_key=True, server_default=FetchedValue()
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    # `metadata` is reserved by the declarative base, hence the attribute name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=FetchedValue()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )


# ---------------------------------------------------------------- Pydantic schemas
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^,\x00]+$")]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ItemPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=10_000)
    tags: list[Tag] | None = Field(default=None, max_length=64)
    metadata: dict[str, Any] | None = None


class BatchItemIn(ItemIn):
    id: uuid.UUID | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    owner_id: uuid.UUID | None
    name: str
    description: str | None
    tags: list[str]
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("meta", "metadata"))
    created_at: datetime
    updated_at: datetime


class BatchOutcome(BaseModel):
    id: uuid.UUID
    created: bool


class BatchOut(BaseModel):
    items: list[BatchOutcome]
    created: int
    updated: int


# ---------------------------------------------------------------- dependencies
async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class Principal(BaseModel):
    user_id: uuid.UUID
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


_PEPPER = hmac.new(SECRET_KEY.encode(), b"items-api api-key pepper", hashlib.sha256).digest()
_key_cache: dict[bytes, tuple[float, Principal]] = {}


async def get_principal(
    session: SessionDep, x_api_key: Annotated[str | None, Header()] = None
) -> Principal:
    if not x_api_key:
        raise HTTPException(401, "authentication required")
    secret_hash = hmac.new(_PEPPER, x_api_key.strip().encode(), hashlib.sha256).digest()
    cached = _key_cache.get(secret_hash)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(
                ApiKey.secret_hash == secret_hash,
                ApiKey.revoked_at.is_(None),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > func.now()),
                User.disabled.is_(False),
            )
        )
    ).first()
    if row is None:
        raise HTTPException(401, "the API key is unknown, revoked or expired")
    key, user = row
    key.last_used_at = datetime.now(UTC)
    await session.commit()
    principal = Principal(user_id=user.id, scopes=frozenset(key.scopes) & frozenset(user.scopes))
    _key_cache[secret_hash] = (time.monotonic() + AUTH_CACHE_SECONDS, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes and "admin" not in principal.scopes:
        raise HTTPException(403, f"this operation needs the {scope!r} scope")


# ---------------------------------------------------------------- app
app = FastAPI(title="items peer: FastAPI + SQLAlchemy")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post(PREFIX, response_model=ItemOut, status_code=201)
async def create_item(
    body: ItemIn, response: Response, session: SessionDep, principal: PrincipalDep
) -> Item:
    require(principal, "items:write")
    item = Item(
        name=body.name,
        description=body.description,
        tags=body.tags,
        meta=body.metadata,
        owner_id=principal.user_id,
    )
    session.add(item)
    await session.commit()
    response.headers["location"] = f"{PREFIX}/{item.id}"
    return item


@app.get(PREFIX + "/{item_id}", response_model=ItemOut)
async def get_item(item_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Item:
    require(principal, "items:read")
    item = await session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, f"no item with id {item_id}")
    return item


@app.put(PREFIX + "/{item_id}", response_model=ItemOut)
async def put_item(
    item_id: uuid.UUID,
    body: ItemIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> Item:
    require(principal, "items:write")
    item = await session.get(Item, item_id, with_for_update=True)
    if item is None:
        item = Item(id=item_id, owner_id=principal.user_id)
        session.add(item)
        response.status_code = 201
    elif not principal.is_admin and item.owner_id != principal.user_id:
        raise HTTPException(403, "the item belongs to another user")
    item.name = body.name
    item.description = body.description
    item.tags = body.tags
    item.meta = body.metadata
    await session.commit()
    return item


@app.patch(PREFIX + "/{item_id}", response_model=ItemOut)
async def patch_item(
    item_id: uuid.UUID, body: ItemPatchIn, session: SessionDep, principal: PrincipalDep
) -> Item:
    require(principal, "items:write")
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise HTTPException(422, "give at least one field to change")
    item = await session.get(Item, item_id, with_for_update=True)
    if item is None:
        raise HTTPException(404, f"no item with id {item_id}")
    if not principal.is_admin and item.owner_id != principal.user_id:
        raise HTTPException(403, "the item belongs to another user")
    for field, value in changes.items():
        setattr(item, "meta" if field == "metadata" else field, value)
    await session.commit()
    return item


@app.delete(PREFIX + "/{item_id}", status_code=204)
async def delete_item(item_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    require(principal, "items:write")
    item = await session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, f"no item with id {item_id}")
    if not principal.is_admin and item.owner_id != principal.user_id:
        raise HTTPException(403, "the item belongs to another user")
    await session.delete(item)
    await session.commit()


def _encode_cursor(position: Any, item_id: uuid.UUID) -> str:
    raw = json.dumps([str(position) if isinstance(position, datetime) else position, str(item_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str, by_score: bool) -> tuple[Any, uuid.UUID]:
    try:
        position, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return (
            float(position) if by_score else datetime.fromisoformat(position),
            uuid.UUID(item_id),
        )
    except (ValueError, TypeError):
        raise HTTPException(422, "invalid cursor") from None


@app.get(PREFIX, response_model=list[ItemOut])
async def list_items(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    tags: str | None = None,
    tags_all: str | None = None,
    metadata: str | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> list[Item]:
    require(principal, "items:read")
    stmt = select(Item)
    if tags:
        stmt = stmt.where(Item.tags.overlap([t.strip() for t in tags.split(",") if t.strip()]))
    if tags_all:
        stmt = stmt.where(Item.tags.contains([t.strip() for t in tags_all.split(",") if t.strip()]))
    if metadata:
        try:
            stmt = stmt.where(Item.meta.contains(json.loads(metadata)))
        except ValueError:
            raise HTTPException(422, "metadata must be a JSON object") from None
    if q is not None:
        score = func.word_similarity(q, Item.name)
        stmt = stmt.add_columns(score.label("score")).where(literal(q).op("<%")(Item.name))
        if cursor:
            last_score, last_id = _decode_cursor(cursor, by_score=True)
            stmt = stmt.where(tuple_(score, Item.id) < tuple_(last_score, last_id))
        stmt = stmt.order_by(score.desc(), Item.id.desc())
    else:
        if cursor:
            last_created, last_id = _decode_cursor(cursor, by_score=False)
            stmt = stmt.where(tuple_(Item.created_at, Item.id) < tuple_(last_created, last_id))
        stmt = stmt.order_by(Item.created_at.desc(), Item.id.desc())
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    page = rows[:limit]
    if len(rows) > limit:
        last = page[-1]
        position = last.score if q is not None else last.Item.created_at
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", _encode_cursor(position, last.Item.id)))
        query = "&".join(f"{k}={v}" for k, v in params)
        response.headers["link"] = f'<{PREFIX}?{query}>; rel="next"'
    return [row.Item for row in page]


@app.post(PREFIX + "/batch", response_model=BatchOut)
async def batch_upsert(
    body: Annotated[list[BatchItemIn], Field(min_length=1, max_length=1000)],
    session: SessionDep,
    principal: PrincipalDep,
) -> BatchOut:
    require(principal, "items:write")
    for entry in body:
        if entry.id is None:
            entry.id = uuid.uuid4()
    ids = [entry.id for entry in body]
    if len(set(ids)) != len(ids):
        raise HTTPException(422, "an id appears more than once in the batch")
    existing = {
        item.id: item
        for item in (await session.scalars(select(Item).where(Item.id.in_(ids)))).all()
    }
    outcomes = []
    for entry in body:
        item = existing.get(entry.id)
        created = item is None
        if item is None:
            item = Item(id=entry.id, owner_id=principal.user_id)
            session.add(item)
        elif not principal.is_admin and item.owner_id != principal.user_id:
            await session.rollback()
            raise HTTPException(403, "some items belong to another owner; nothing was written")
        item.name = entry.name
        item.description = entry.description
        item.tags = entry.tags
        item.meta = entry.metadata
        outcomes.append(BatchOutcome(id=entry.id, created=created))
    await session.commit()
    created_count = sum(o.created for o in outcomes)
    return BatchOut(items=outcomes, created=created_count, updated=len(outcomes) - created_count)
