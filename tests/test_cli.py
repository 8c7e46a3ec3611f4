"""The `switchboard` command and the `uvicorn asgi:app` entry point, as an operator runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.conftest import Org

SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")
CONTRACT_CHECK = Path("/work/shared/contract/check_contract.py")


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
    ):
        done = _cli("token", *args, env=env)
        assert done.returncode != 0 and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("switchboard: cannot issue token"), done.stderr
    unknown = _cli("token", "--role", "root", "--org", "o", env=env)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


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


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not healthy: {log.read_text()[-2000:]}")


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = servers.new_workdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=str(cwd), env=env, stdout=out, stderr=subprocess.STDOUT)


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
    process = _start([SWITCHBOARD, "serve", "--port", str(port)], env, workdir, workdir / "serve.log")
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, workdir / "serve.log")
        assert (workdir / "switchboard.db").exists() and (workdir / "switchboard.secret").exists()
        token = _cli("token", "--role", "admin", "--org", "solo", env=env, cwd=workdir).stdout.strip()
        response = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { organization } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.json() == {"data": {"viewer": {"organization": "solo"}}}
        assert httpx.get(f"{url}/readyz", timeout=5).json() == {"ready": True, "database": "ok"}
    finally:
        _stop(process)


def test_uvicorn_asgi_app_from_the_repo_root(workdir: Path) -> None:
    env = servers.base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'asgi.db'}"})
    port = servers.free_port()
    process = _start(
        [sys.executable, "-m", "uvicorn", "asgi:app", "--port", str(port)], env, servers.ROOT, workdir / "uvicorn.log"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, workdir / "uvicorn.log")
        token = _token(env, "--role", "analyst", "--org", "o")
        response = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { role } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.json() == {"data": {"viewer": {"role": "analyst"}}}
        assert (workdir / "asgi.db").exists()
    finally:
        _stop(process)


@pytest.mark.postgres_only
async def test_serve_with_several_workers_on_postgres(org: Org, workdir: Path) -> None:
    port = servers.free_port()
    process = _start(
        [SWITCHBOARD, "serve", "--port", str(port), "--workers", "2"],
        dict(org.stack.env),
        workdir,
        workdir / "serve.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, workdir / "serve.log")
        agent = await org.create_agent("Ann", status=None)
        mutation = "mutation($s: AgentStatus!) { setAgentStatus(input: {status: $s}) { agent { status } } }"
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for status in ("ONLINE", "AWAY", "ONLINE", "DO_NOT_DISTURB"):
                response = await client.post(
                    "/graphql",
                    json={"query": mutation, "variables": {"s": status}},
                    headers={"Authorization": f"Bearer {agent.token}"},
                )
                assert response.json() == {"data": {"setAgentStatus": {"agent": {"status": status}}}}
        # The stack's own servers see what the workers wrote.
        data = await org.data("query($id: ID!) { node(id: $id) { ... on Agent { status } } }", {"id": agent.id})
        assert data["node"] == {"status": "DO_NOT_DISTURB"}
    finally:
        _stop(process)
