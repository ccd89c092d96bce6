"""The environment a moto test runs in: fake credentials, no profile, no endpoint or session of the machine's.

One home for it, so no test can reach a real account through a variable another copy forgot.
"""

from __future__ import annotations

from typing import Any

FAKE_KEY = "testing"


def use_fake_credentials(monkeypatch: Any, region: str | None = None) -> None:
    """Unset the machine's profile, endpoint and session token; set moto's fake keys (and the region)."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_KEY)
    if region is not None:
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
