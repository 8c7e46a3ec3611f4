"""Row lookups by a list of keys whose SQL the ORM builds once per shape and number of keys.

A loader's batch (the collaborators of a page's 20 threads) is the same statement
request after request, with other keys. Through tortoise it costs ~1.2 ms of CPU,
of which making the SQL (filters, pypika) and the queryset's own machinery are
more than half. Here the queryset is still made by the caller for every call
(through ``Tenant.q``: its tenant filter and its connection, a transaction's when
there is one), but its SQL is built once per (shape, number of keys, dialect)
and only the parameters change: the keys go where the ORM put them (found by
building it once with stand-in keys). Rows become Models through tortoise's own
executor, as the queryset would make them (``select_related`` joins included).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)

# Batches of more keys than this go through the ORM as usual (each length is a statement text).
MAX_KEYS = 128
# The organization a statement is built with: no organization has this id (NUL is refused).
_ORG = "\x00organization"
Make = Callable[[str, list[int]], QuerySet[Any]]
# (shape, number of keys, dialect) -> (SQL, parameters, where the organization goes, where each key goes,
# the executor's layout of select_related columns); bounded by the shapes in the code times MAX_KEYS.
_Built = tuple[str, list[Any], list[int], list[int], Any]
_built: dict[tuple[Hashable, int, str], _Built | None] = {}


def _stand_ins(n: int) -> list[int]:
    # Negative ids: no row has one, and nothing else in these statements is a negative integer.
    return [-1 - i for i in range(n)]


def parameterized_sql(qs: QuerySet[Any]) -> tuple[str, list[Any]]:
    """``qs`` as SQL with placeholders, and its parameters as the ORM converts them, to run inside a larger
    statement. Not ``sql(params_inline=True)``: that leaves a subquery's placeholders unfilled, and spells
    times unlike SQLite stores them."""
    qs._choose_db_if_not_chosen()
    qs._make_query()
    sql, params = qs.query.get_parameterized_sql()
    return sql, list(params)


async def models_of(qs: QuerySet[Any], sql: str, params: list[Any], related: Any = None) -> list[Any]:
    """The rows of ``sql`` (``qs``'s columns, ``select_related`` joins as laid out by ``related``) as ``qs``'s
    Models, made by tortoise's own executor on ``qs``'s connection (as awaiting ``qs`` would)."""
    qs._choose_db_if_not_chosen()
    db = qs._db
    executor = db.executor_class(model=qs.model, db=db, select_related_idx=related)
    return list(await executor.execute_select(sql, params))


def _build(make: Make, n: int) -> _Built | None:
    qs = make(_ORG, _stand_ins(n))
    sql, params = parameterized_sql(qs)
    orgs = [i for i, value in enumerate(params) if value == _ORG]
    keys = []
    for stand_in in _stand_ins(n):
        found = [i for i, value in enumerate(params) if type(value) is int and value == stand_in]
        if len(found) != 1:
            return None  # not a shape this can reuse: the ORM runs it every time
        keys.append(found[0])
    return (sql, params, orgs, keys, qs._select_related_idx) if orgs else None


async def select_by_keys(shape: Hashable, make: Make, org: str, keys: Sequence[int]) -> list[M]:
    """``await make(org, keys)``: the same rows as Models, its SQL made once per ``shape`` and number of keys.

    For a given ``shape``, ``make`` must depend on nothing but its two arguments.
    """
    keys = list(keys)
    qs = make(org, keys)
    if not keys or len(keys) > MAX_KEYS:
        return list(await qs)
    qs._choose_db_if_not_chosen()
    db = qs._db
    key = (shape, len(keys), str(db.capabilities.dialect))
    if key not in _built:
        _built[key] = _build(make, len(keys))
    built = _built[key]
    if built is None:
        return list(await qs)
    sql, template, orgs, positions, related = built
    params = list(template)
    for position in orgs:
        params[position] = org
    for position, value in zip(positions, keys, strict=True):
        params[position] = value
    return await models_of(qs, sql, params, related)


async def select_one(shape: Hashable, make: Make, org: str, pk: int) -> Any:
    """The Model of ``make(org, [pk])`` or None (a lookup by primary key, joins included), as ``select_by_keys``."""
    rows: list[Model] = await select_by_keys(shape, make, org, [pk])
    return rows[0] if rows else None
