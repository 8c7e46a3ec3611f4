"""The `switchboard` command and the `uvicorn asgi:app` entry point, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.conftest import Org

SWITCHBOARD = servers.SWITCHBOARD
# The contract sits beside the repository (``<repo>/../shared/contract``) in the project's layout.
CONTRACT_CHECK = servers.ROOT.parent / "shared" / "contract" / "check_contract.py"


def _cli(*args: str, env: dict[str, str], cwd: Path = servers.ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SWITCHBOARD, *args], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=60)


def _token(env: dict[str, str], *args: str) -> str:
    done = _cli("token", *args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_printed_tokens_are_accepted_by_the_server(org: Org) -> None:
    env = dict(org.stack.env)
    admin = _token(env, "--role", "admin", "--org", org.id)
    assert (await org.data("{ viewer { role organization } }", token=admin))["viewer"] == {
        "role": "admin",
        "organization": org.id,
    }
    agent = await org.create_agent("Ann")
    agent_token = _token(env, "--role", "agent", "--org", org.id, "--sub", agent.id, "--ttl", "120")
    viewer = await org.data("{ viewer { agent { id } } }", token=agent_token, server=1)
    assert viewer["viewer"]["agent"]["id"] == agent.id
    thread_id, _ = await org.start_thread()
    visitor_id = (await org.data("query($t: ID!) { thread(id: $t) { visitor { id } } }", {"t": thread_id}))["thread"][
        "visitor"
    ]["id"]
    visitor = _token(env, "--role", "visitor", "--org", org.id, "--sub", visitor_id, "--thread", thread_id)
    assert (await org.data("query($t: ID!) { thread(id: $t) { id } }", {"t": thread_id}, token=visitor))["thread"] == {
        "id": thread_id
    }


def test_token_refuses_bad_arguments_in_one_line() -> None:
    env = servers.base_env({})
    for args in (
        ["--role", "agent", "--org", "o", "--sub", "not-an-agent-id"],
        ["--role", "visitor", "--org", "o", "--sub", "VmlzaXRvcjox"],
        ["--role", "admin", "--org", "o", "--ttl", "0"],
        # Longer than a token may live: 30 days, 7 for visitors.
        ["--role", "admin", "--org", "o", "--ttl", str(30 * 86400 + 1)],
        ["--role", "visitor", "--org", "o", "--sub", "VmlzaXRvcjox", "--thread", "VGhyZWFkOjE", "--ttl", "604801"],
    ):
        done = _cli("token", *args, env=env)
        assert done.returncode != 0 and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("switchboard: cannot issue token"), done.stderr
        if "--ttl" in args and args[-1] != "0":
            assert ("7 days" if "visitor" in args else "30 days") in lines[0], lines[0]
    unknown = _cli("token", "--role", "root", "--org", "o", env=env)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_schema_graphql_at_the_repo_root_is_the_served_sdl() -> None:
    """``schema.graphql`` is what clients read without running the server: it must be what it serves."""
    done = _cli("schema", env=servers.base_env({}))
    assert done.returncode == 0, done.stderr
    committed = (servers.ROOT / "schema.graphql").read_text()
    assert committed == done.stdout, "schema.graphql is stale: run `switchboard schema > schema.graphql`"


def test_schema_prints_the_served_sdl_without_contract_breaks(tmp_path: Path) -> None:
    done = _cli("schema", env=servers.base_env({}))
    assert done.returncode == 0, done.stderr
    assert "type Query" in done.stdout and "type Subscription" in done.stdout
    sdl = tmp_path / "served.graphql"
    sdl.write_text(done.stdout)
    if not CONTRACT_CHECK.exists():
        pytest.skip("the contract is not beside the repository")
    check = subprocess.run([sys.executable, str(CONTRACT_CHECK), str(sdl)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout
    assert check.stdout.strip().splitlines()[-1].startswith("0 contract breaks")


def test_token_elsewhere_refuses_instead_of_making_a_secret_the_server_does_not_know(workdir: Path) -> None:
    """The embedded default keeps its secret beside ``./switchboard.db``; another folder has none."""
    env = {k: v for k, v in servers.base_env({}).items() if not k.startswith("SWITCHBOARD_")}
    done = _cli("token", "--role", "admin", "--org", "o", env=env, cwd=workdir)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert str(workdir / "switchboard.secret") in line and "SWITCHBOARD_DATABASE_URL" in line, line
    assert list(workdir.iterdir()) == []  # nothing created


async def test_root_page_points_to_graphiql_health_and_metrics(org: Org) -> None:
    page = await org.http.get(f"{org.stack.url()}/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in ("/graphql", "/healthz", "/readyz", "/metrics"):
        assert f'href="{path}"' in page.text
    listing = await org.http.get(f"{org.stack.url()}/")
    assert listing.status_code == 200
    assert set(listing.json()["links"]) == {"/graphql", "/healthz", "/readyz", "/metrics"}


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_serve_embedded_default_with_zero_settings(workdir: Path) -> None:
    """No settings at all: SQLite beside the working directory, a dev secret the token command shares."""
    env = {k: v for k, v in servers.base_env({}).items() if not k.startswith("SWITCHBOARD_")}
    port = servers.free_port()
    process = servers.launch([SWITCHBOARD, "serve", "--port", str(port)], env, workdir, workdir / "serve.log")
    try:
        url = f"http://127.0.0.1:{port}"
        servers.wait_healthy(url, process, workdir / "serve.log")
        assert (workdir / "switchboard.db").exists() and (workdir / "switchboard.secret").exists()
        token = _cli("token", "--role", "admin", "--org", "solo", env=env, cwd=workdir).stdout.strip()
        response = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { organization } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.json()["data"] == {"viewer": {"organization": "solo"}}
        assert httpx.get(f"{url}/readyz", timeout=5).json() == {"ready": True, "database": "ok"}
    finally:
        _stop(process)
    # Start-up says where the data and the secret are, and where GraphiQL is; it never shows the
    # secret, and nothing in it reads like a failure.
    log = (workdir / "serve.log").read_text()
    startup = log[: log.index("Application startup complete")]
    assert "Tortoise-ORM shutdown" not in startup, startup
    assert f"database: SQLite file {workdir / 'switchboard.db'}" in startup
    migrations = len(list((servers.ROOT / "switchboard" / "migrations").glob("0*.py")))
    assert f"applied {migrations} migration(s)" in startup
    assert f"kept in {workdir / 'switchboard.secret'}" in startup
    assert f"GraphiQL: http://127.0.0.1:{port}/graphql" in startup
    assert (workdir / "switchboard.secret").read_text().strip() not in log


def test_uvicorn_asgi_app_from_the_repo_root(workdir: Path) -> None:
    env = servers.base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'asgi.db'}"})
    port = servers.free_port()
    process = servers.launch(
        [sys.executable, "-m", "uvicorn", "asgi:app", "--port", str(port)], env, servers.ROOT, workdir / "uvicorn.log"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        servers.wait_healthy(url, process, workdir / "uvicorn.log")
        token = _token(env, "--role", "analyst", "--org", "o")
        response = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { role } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.json()["data"] == {"viewer": {"role": "analyst"}}
        assert (workdir / "asgi.db").exists()
    finally:
        _stop(process)


@pytest.mark.postgres_only
async def test_serve_with_several_workers_on_postgres(org: Org, workdir: Path) -> None:
    port = servers.free_port()
    process = servers.launch(
        [SWITCHBOARD, "serve", "--port", str(port), "--workers", "2"],
        dict(org.stack.env),
        workdir,
        workdir / "serve.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        servers.wait_healthy(url, process, workdir / "serve.log")
        agent = await org.create_agent("Ann", status=None)
        mutation = "mutation($s: AgentStatus!) { setAgentStatus(input: {status: $s}) { agent { status } } }"
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for status in ("ONLINE", "AWAY", "ONLINE", "DO_NOT_DISTURB"):
                response = await client.post(
                    "/graphql",
                    json={"query": mutation, "variables": {"s": status}},
                    headers={"Authorization": f"Bearer {agent.token}"},
                )
                assert response.json()["data"] == {"setAgentStatus": {"agent": {"status": status}}}
        # The stack's own servers see what the workers wrote.
        data = await org.data("query($id: ID!) { node(id: $id) { ... on Agent { status } } }", {"id": agent.id})
        assert data["node"] == {"status": "DO_NOT_DISTURB"}
    finally:
        _stop(process)
