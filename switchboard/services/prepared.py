"""Reads of one row by primary key whose SQL is built once per process, not once per call.

Tortoise builds a query's SQL again on every await (pypika, column by column, joins
included): for the reads every message makes (the thread and the visitor it locks,
the agent of a token, the message's rows each process renders from) that was more
CPU than running them. A ``Prepared`` read is the tenant's own query (``Tenant.q``:
the tenancy filter is the usual one), built once per dialect with marker values in
place of the organization and the key; each call runs that SQL with its own values
through the ORM's executor, which turns the row into models exactly as the query
would (``select_related`` included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)

# Stand-ins for the organization and the key while the SQL is built: found again among its parameters.
_ORG = "\x00prepared-org"
_PK = -(2**62) + 7


class Prepared(Generic[M]):
    """``build(org, pk)``'s first row; ``build`` must put ``org`` and ``pk`` in the query's parameters only as given."""

    def __init__(self, model: type[M], build: Callable[[str, int], QuerySet[M]], *, for_update: bool = False) -> None:
        self.model = model
        self.build = build
        self.for_update = for_update
        # Per dialect: the SQL, its parameters with the markers, where they are, the select_related layout.
        self._plans: dict[str, tuple[str, list[Any], list[int], list[int], Any]] = {}

    def _plan(self, dialect: str) -> tuple[str, list[Any], list[int], list[int], Any]:
        plan = self._plans.get(dialect)
        if plan is None:
            qs = self.build(_ORG, _PK).limit(1)
            qs._choose_db_if_not_chosen(self.for_update)
            qs._make_query()
            sql, params = qs.query.get_parameterized_sql()
            values = list(params)
            orgs = [i for i, value in enumerate(values) if value == _ORG]
            pks = [i for i, value in enumerate(values) if value == _PK]
            assert orgs and pks, "the query must filter on both the organization and the key"
            plan = (sql, values, orgs, pks, qs._select_related_idx)
            self._plans[dialect] = plan
        return plan

    async def first(self, org: str, pk: int) -> M | None:
        db = self.model._choose_db(self.for_update)
        sql, template, orgs, pks, related = self._plan(db.capabilities.dialect)
        values = list(template)
        for i in orgs:
            values[i] = org
        for i in pks:
            values[i] = pk
        executor = db.executor_class(model=self.model, db=db, select_related_idx=related)
        rows = await executor.execute_select(sql, values)
        return rows[0] if rows else None
