"""A bare Starlette JSON endpoint: what one uvicorn process serves with no GraphQL at all.

    .venv/bin/python -m uvicorn bench.bare_starlette:app --host 127.0.0.1 --port 8001 --log-level warning

The reference for the trivial query (issue 11: Switchboard's ``{ viewer { role } }``
at 0.3 or more of this, same machine, same run). It is served like Switchboard
(``tests/servers.py``: uvicorn, one process, uvloop and httptools chosen by
uvicorn's ``auto``, log level warning), reads and parses the JSON body as any
GraphQL server must, and answers what Switchboard answers to an admin.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

ANSWER = {"data": {"viewer": {"role": "admin"}}}


async def graphql(request: Request) -> JSONResponse:
    await request.json()
    return JSONResponse(ANSWER)


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)])
