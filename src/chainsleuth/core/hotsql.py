"""Hot-path statements: Core statements compiled once, run on the driver's own cursor.

A screening (the KYT hot path) runs three statements. Through SQLAlchemy each costs about
0.3 ms of CPU before the database sees it (the compiled cache's lookup, an execution
context, parameter and result objects); through psycopg directly, about 0.07 ms.
``HotStatement`` keeps SQLAlchemy for what it is good at (building and compiling the
statement, the columns' types) and does the per-execution part itself, on PostgreSQL only:

- the statement is compiled once per dialect;
- each execution's values go through the same bind processors SQLAlchemy applies (the
  columns' types: ``UTCDateTime``, ``Amount``, JSON), and each row's values through the
  same result processors, so that callers see the values SQLAlchemy would give;
- it runs on the DBAPI connection of the session's own connection, so it is part of the
  session's transaction and is committed or rolled back with it;
- a driver error becomes SQLAlchemy's (``IntegrityError`` and so on, as callers catch),
  and a connection the driver lost is invalidated in the pool, as SQLAlchemy does.

SQLite (the embedded default) runs the statement through SQLAlchemy as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


class _Compiled:
    __slots__ = ("sql", "binds", "columns", "dialect", "results")

    def __init__(
        self,
        sql: str,
        binds: list[tuple[str, str, bool, Any, Processor]],
        columns: Sequence[Any],
        dialect: Dialect,
    ) -> None:
        self.sql = sql
        # (name in the SQL, key in the caller's values, required, default, processor)
        self.binds = binds
        self.columns = columns
        self.dialect = dialect
        #: the columns' result processors, made at the first execution (they depend on the
        #: driver's type codes, as SQLAlchemy's do)
        self.results: list[Processor] | None = None

    def processors(self, description: Sequence[Any]) -> list[Processor]:
        if self.results is None:
            if len(description) != len(self.columns):  # pragma: no cover - a misuse
                raise NotImplementedError("the statement's columns do not match its rows")
            self.results = [
                column.type.dialect_impl(self.dialect).result_processor(self.dialect, d.type_code)
                for column, d in zip(self.columns, description, strict=True)
            ]
        return self.results


class HotStatement:
    """A Core statement (select, or DML with RETURNING or without) for a hot path.

    An INSERT or UPDATE names its values (``.values({...: bindparam(...)})``): the statement
    is compiled once, not for each execution's set of keys as SQLAlchemy does."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(
        self, session: Session, values: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The statement's rows (none for DML without RETURNING), in the session's
        transaction."""
        conn = session.connection()
        if conn.dialect.name != "postgresql":
            result = conn.execute(self.statement, dict(values or {}))
            return [tuple(row) for row in result] if result.returns_rows else []
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = _compile(self.statement, conn.dialect)
        params = _params(compiled, values or {})
        return _run(conn, compiled, params)

    def first(
        self, session: Session, values: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        found = self.rows(session, values)
        return found[0] if found else None

    def one(self, session: Session, values: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
        found = self.rows(session, values)
        if len(found) != 1:
            raise exc.NoResultFound("no row") if not found else exc.MultipleResultsFound("rows")
        return found[0]


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if dialect.paramstyle != "pyformat":  # pragma: no cover - psycopg's style
        raise NotImplementedError(f"{dialect.paramstyle} parameters are not supported")
    escaped = getattr(compiled, "escaped_bind_names", None) or {}
    binds: list[tuple[str, str, bool, Any, Processor]] = []
    for bind, name in compiled.bind_names.items():
        if bind.expanding or bind.literal_execute or bind.callable is not None:
            raise NotImplementedError(f"bind {name!r}: expanding or deferred binds")
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append((escaped.get(name, name), bind.key, bind.required, bind.value, processor))
    columns: Sequence[Any] = list(getattr(statement, "exported_columns", ()))
    return _Compiled(compiled.string, binds, columns, dialect)


def _params(compiled: _Compiled, values: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, key, required, default, processor in compiled.binds:
        if key in values:
            value = values[key]
        elif required:
            raise exc.ArgumentError(f"a value is required for bind parameter {key!r}")
        else:
            value = default
        params[name] = processor(value) if processor is not None else value
    return params


def _run(conn: Connection, compiled: _Compiled, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    fairy = conn.connection
    driver = fairy.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            if not compiled.columns:  # DML without RETURNING: no rows
                return []
            # psycopg builds the description's column objects anew on each reading: only
            # the first execution reads it (for the result processors)
            processors = compiled.results
            if processors is None:
                processors = compiled.processors(cursor.description or ())
            raw = cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as error:
        invalidated = conn.dialect.is_disconnect(error, driver, None)
        if invalidated:
            conn.invalidate(error)
        raise exc.DBAPIError.instance(
            compiled.sql, params, error, conn.dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated, dialect=conn.dialect,
        ) from error  # fmt: skip
    if not any(p is not None for p in processors):
        return [tuple(row) for row in raw]
    return [
        tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True)) for row in raw
    ]
