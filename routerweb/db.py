"""Database work from async code.

Django opens and recycles connections per request through its `request_started` and
`request_finished` signals. Async code on a hot path (the `/v1` gateway, which skips those
signals to avoid their thread hops, see `routerweb.asgi`) runs its ORM work through
`run_db` instead: on a worker thread of the default pool (one connection per thread, kept
per `CONN_MAX_AGE`), with the same recycling before and after that a request would get.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, models, transaction
from django.db.models import Field, Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLInsertCompiler


def recycling_connections[**P, T](fn: Callable[P, T]) -> Callable[P, T]:
    """`fn` wrapped to recycle this thread's connections before and after, as per request
    (also used by the decision-logging thread in gateway/v1.py)."""

    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return call


async def run_db[T](fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on a worker thread, connections recycled as per request."""
    return await sync_to_async(recycling_connections(fn), thread_sensitive=False)(*args, **kwargs)


# The INSERT of one row, per model and database, that `insert_ignoring` runs once per row with
# `executemany`: `bulk_create` compiles (and SQLite re-parses) a statement of its own for every
# batch, which cost more than the rows' values; `Model.save` twice as much again. Same SQL,
# same conflict handling, same value preparation: Django's insert compiler builds it.
_inserts: dict[tuple[type[Model], str], tuple[str, InsertQuery, list[Field]]] = {}


# Fields whose value of exactly this type is what every database driver is given as it is:
# Django's preparation (to_python, then the backend's adapter) returns it unchanged, at a few
# microseconds per field and row — a large part of writing a decision. Every other field, and a value
# of another type, is prepared as Django prepares it.
_PLAIN: dict[type[Field], type] = {
    models.CharField: str,
    models.TextField: str,
    models.SlugField: str,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.BooleanField: bool,
    models.FloatField: float,
}


def insert_ignoring(rows: Sequence[Model]) -> None:
    """INSERT `rows` (all of one model) in one transaction, skipping any that would break a
    unique constraint (a record written twice is stored once) — `bulk_create(rows,
    ignore_conflicts=True)`, with the statement built once per model and database."""
    if not rows:
        return
    model = type(rows[0])
    key = (model, f"{connection.alias}:{connection.vendor}")
    if key not in _inserts:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
        query.insert_values(fields, list(rows[:1]))
        ((sql, _params),) = query.get_compiler(connection=connection).as_sql()
        _inserts[key] = (sql, query, fields)
    sql, query, fields = _inserts[key]
    compiler: SQLInsertCompiler = query.get_compiler(connection=connection)  # this thread's
    plain = [(field, _PLAIN.get(type(field))) for field in fields]

    def prepared(field: Field, kind: type | None, row: Model) -> Any:
        value = getattr(row, field.attname)
        if kind is not None and (type(value) is kind or (value is None and field.null)):
            return value
        return compiler.prepare_value(field, compiler.pre_save_val(field, row))

    params = [[prepared(field, kind, row) for field, kind in plain] for row in rows]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, params)
