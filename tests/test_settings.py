"""Settings: defaults, and a bad value stops start-up with one clear line, never a traceback."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard import settings
from switchboard.settings import SettingsError
from tests import servers

PG = "postgres://root@127.0.0.1:5432/test"
SECRET = "s" * 32


def test_defaults_are_the_embedded_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = settings.load({})
    assert loaded.embedded and loaded.database_url == "sqlite://switchboard.db" and loaded.redis_url is None
    assert loaded.allowed_origins == ("*",) and loaded.log_level == "INFO" and loaded.event_retention_hours == 168
    # A development secret is generated once, kept beside the database, private to its owner.
    secret_file = tmp_path / "switchboard.secret"
    assert secret_file.read_text().strip() == loaded.jwt_secret and len(loaded.jwt_secret) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert loaded.jwt_secret_file == secret_file
    assert settings.load({}).jwt_secret == loaded.jwt_secret
    beside = settings.load({"SWITCHBOARD_DATABASE_URL": f"sqlite://{tmp_path / 'data' / 'x.db'}"})
    assert (tmp_path / "data" / "switchboard.secret").read_text().strip() == beside.jwt_secret


def test_a_short_development_secret_is_refused_and_none_is_made_where_not_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # ``switchboard token`` asks not to create one: a secret made here would not be the server's.
    with pytest.raises(SettingsError) as missing:
        settings.load({}, create_secret=False)
    assert str(tmp_path / "switchboard.secret") in str(missing.value)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "switchboard.secret").write_text("too-short\n")
    with pytest.raises(SettingsError) as short:
        settings.load({})
    assert str(short.value).startswith("SWITCHBOARD_JWT_SECRET:") and "32 bytes" in str(short.value)
    (tmp_path / "switchboard.secret").write_text("é" * 16 + "\n")
    assert settings.load({}, create_secret=False).jwt_secret == "é" * 16


def test_production_values_are_read() -> None:
    loaded = settings.load(
        {
            "SWITCHBOARD_DATABASE_URL": "postgresql://u:p@db.internal:5433/sb",
            "SWITCHBOARD_REDIS_URL": "redis://cache:6380/2",
            "SWITCHBOARD_JWT_SECRET": SECRET,
            "SWITCHBOARD_ALLOWED_ORIGINS": "https://console.example.com/, https://widget.example.com",
            "SWITCHBOARD_LOG_LEVEL": "debug",
            "SWITCHBOARD_EVENT_RETENTION_HOURS": "48",
        }
    )
    assert loaded.is_postgres and not loaded.embedded
    assert loaded.tortoise_db_url == "postgres://u:p@db.internal:5433/sb"
    assert loaded.redis_url == "redis://cache:6380/2" and loaded.jwt_secret == SECRET
    assert loaded.allowed_origins == ("https://console.example.com", "https://widget.example.com")
    assert loaded.log_level == "DEBUG" and loaded.event_retention_hours == 48


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SWITCHBOARD_DATABASE_URL": "mysql://db/x"}, "SWITCHBOARD_DATABASE_URL"),
        ({"SWITCHBOARD_DATABASE_URL": "postgres://:99999999/x"}, "SWITCHBOARD_DATABASE_URL"),
        ({"SWITCHBOARD_DATABASE_URL": "postgres://host"}, "SWITCHBOARD_DATABASE_URL"),
        ({"SWITCHBOARD_DATABASE_URL": "sqlite://"}, "SWITCHBOARD_DATABASE_URL"),
        ({"SWITCHBOARD_DATABASE_URL": "sqlite://:memory:"}, "SWITCHBOARD_DATABASE_URL"),
        ({"SWITCHBOARD_DATABASE_URL": "not a url"}, "SWITCHBOARD_DATABASE_URL"),
        ({"SWITCHBOARD_DATABASE_URL": PG}, "SWITCHBOARD_JWT_SECRET"),
        ({"SWITCHBOARD_DATABASE_URL": PG, "SWITCHBOARD_JWT_SECRET": "short"}, "SWITCHBOARD_JWT_SECRET"),
        # 32 bytes at least (HS256); 31 ASCII characters, or 16 two-byte ones, are not enough.
        ({"SWITCHBOARD_DATABASE_URL": PG, "SWITCHBOARD_JWT_SECRET": "s" * 31}, "SWITCHBOARD_JWT_SECRET"),
        ({"SWITCHBOARD_DATABASE_URL": PG, "SWITCHBOARD_JWT_SECRET": "é" * 15 + "s"}, "SWITCHBOARD_JWT_SECRET"),
        ({"SWITCHBOARD_REDIS_URL": "http://cache"}, "SWITCHBOARD_REDIS_URL"),
        ({"SWITCHBOARD_REDIS_URL": "redis://cache:99999"}, "SWITCHBOARD_REDIS_URL"),
        ({"SWITCHBOARD_ALLOWED_ORIGINS": "console.example.com"}, "SWITCHBOARD_ALLOWED_ORIGINS"),
        ({"SWITCHBOARD_ALLOWED_ORIGINS": " , "}, "SWITCHBOARD_ALLOWED_ORIGINS"),
        ({"SWITCHBOARD_LOG_LEVEL": "LOUD"}, "SWITCHBOARD_LOG_LEVEL"),
        ({"SWITCHBOARD_EVENT_RETENTION_HOURS": "12"}, "SWITCHBOARD_EVENT_RETENTION_HOURS"),
        ({"SWITCHBOARD_EVENT_RETENTION_HOURS": "a week"}, "SWITCHBOARD_EVENT_RETENTION_HOURS"),
    ],
)
def test_bad_values_name_the_setting(
    env: dict[str, str], variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as failed:
        settings.load(env)
    assert str(failed.value).startswith(variable + ":")
    assert "\n" not in str(failed.value)


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=str(cwd),
        env=servers.base_env(env) | {"SWITCHBOARD_JWT_SECRET": env.get("SWITCHBOARD_JWT_SECRET", "")},
        capture_output=True,
        text=True,
        timeout=60,
    )


SERVE_FAILURES = [
    ({"SWITCHBOARD_DATABASE_URL": "postgres//oops"}, "SWITCHBOARD_DATABASE_URL"),
    ({"SWITCHBOARD_DATABASE_URL": PG}, "SWITCHBOARD_JWT_SECRET: required"),
    (
        {"SWITCHBOARD_DATABASE_URL": "postgres://root@127.0.0.1:1/test", "SWITCHBOARD_JWT_SECRET": SECRET},
        "database unreachable",
    ),
    (
        {
            "SWITCHBOARD_DATABASE_URL": "postgres://root@127.0.0.1:5432/no_such_db_here",
            "SWITCHBOARD_JWT_SECRET": SECRET,
        },
        "database unreachable",
    ),
    ({"SWITCHBOARD_REDIS_URL": "redis//nohost"}, "SWITCHBOARD_REDIS_URL"),
    ({"SWITCHBOARD_REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis unreachable (redis://127.0.0.1:1/0)"),
    ({"SWITCHBOARD_ALLOWED_ORIGINS": "*.example.com"}, "SWITCHBOARD_ALLOWED_ORIGINS"),
]


@pytest.mark.parametrize(("env", "phrase"), SERVE_FAILURES)
def test_serve_refuses_bad_settings_in_one_line(env: dict[str, str], phrase: str, tmp_path: Path) -> None:
    switchboard = str(Path(sys.executable).parent / "switchboard")
    done = _run([switchboard, "serve", "--port", str(servers.free_port())], env, tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("switchboard: ") and phrase in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(("env", "phrase"), [SERVE_FAILURES[0], SERVE_FAILURES[2]])
def test_uvicorn_entry_point_refuses_bad_settings_without_traceback(env: dict[str, str], phrase: str) -> None:
    done = _run([sys.executable, "-m", "uvicorn", "asgi:app", "--port", str(servers.free_port())], env, servers.ROOT)
    assert done.returncode != 0
    output = done.stderr + done.stdout
    assert "Traceback" not in output
    reason = [line for line in output.splitlines() if "switchboard: " in line]
    assert len(reason) == 1 and phrase in reason[0], output


def test_serve_refuses_bad_arguments(tmp_path: Path) -> None:
    switchboard = str(Path(sys.executable).parent / "switchboard")
    for args, phrase in (
        (["--workers", "2"], "embedded default runs one process"),
        (["--port", "70000"], "port"),
        (["--workers", "0"], "--workers"),
    ):
        done = _run(
            [switchboard, "serve", *args], {"SWITCHBOARD_DATABASE_URL": f"sqlite://{tmp_path / 'x.db'}"}, tmp_path
        )
        assert done.returncode != 0 and phrase in done.stderr and "Traceback" not in done.stderr, done.stderr
