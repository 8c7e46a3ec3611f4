"""`uvicorn asgi:app` from the repo root."""

from __future__ import annotations

import sys

from switchboard.settings import SettingsError

try:
    from switchboard.app import app_from_env

    app = app_from_env()
except SettingsError as exc:
    sys.stderr.write(f"switchboard: {exc}\n")
    raise SystemExit(2) from None
