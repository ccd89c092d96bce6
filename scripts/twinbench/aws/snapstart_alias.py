"""Forcing a SnapStart restore: publish a version, point the alias at it, put the alias back.

Why: a SnapStart function is served through an alias on a published version, and a new
environment there is a restore from that version's snapshot; changing ``$LATEST`` alone starts
nothing the alias serves. So after each configuration change :class:`SnapStartAlias` publishes
``$LATEST`` (``PublishVersion``), waits for ``published_version_active`` and moves the alias onto
it (``UpdateAlias``). :meth:`restore` moves the alias back to its original version, then deletes
every version it published (``DeleteFunction`` with the version as qualifier: a version cannot be
unpublished otherwise); until then each one's snapshot is cached (and billed). No boto3 import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twinbench.aws.api_errors import error_code

__all__ = ["SNAPSTART_ALIAS", "SNAPSTART_APPLY_ON", "SnapStartAlias", "SnapStartAliasError", "serves_snapstart"]

SNAPSTART_APPLY_ON = "PublishedVersions"  # SnapStart.ApplyOn on a version that restores from a snapshot
SNAPSTART_ALIAS = "snapstart"  # the alias the Serverless Framework routes a SnapStart function through


class SnapStartAliasError(Exception):
    """A published version is not usable: not new (so never moved onto or deleted) or never Active."""


Call = Callable[..., Any]  # (action, fn, **kwargs) -> response; maps errors to the caller's type


def serves_snapstart(call: Call, client: Any, function_name: str, version: str) -> bool:
    """True when ``version`` of the function has ``SnapStart.ApplyOn == "PublishedVersions"``."""
    conf = call("GetFunctionConfiguration", client.get_function_configuration,
                FunctionName=function_name, Qualifier=version)
    return (conf.get("SnapStart") or {}).get("ApplyOn") == SNAPSTART_APPLY_ON


@dataclass(eq=False)
class SnapStartAlias:
    """The alias a SnapStart function is served through, moved onto fresh versions and back.

    ``original_version`` is read by :meth:`read`; ``published`` lists every version published
    here, ``deleted`` those deleted again (all of them once :meth:`restore` has run).
``delay_s`` / ``max_attempts`` tune the ``published_version_active`` waiter (a SnapStart version
is Active once its snapshot is taken).
    """

    client: Any
    function_name: str
    alias: str
    call: Call
    delay_s: int = 1
    max_attempts: int = 120
    original_version: str | None = field(default=None, init=False)
    published: list[str] = field(default_factory=list, init=False)
    deleted: list[str] = field(default_factory=list, init=False)

    def read(self, *, missing_ok: bool = False) -> str | None:
        """The version the alias points to now (kept as the one to restore); ``None`` when the
        function has no such alias and ``missing_ok`` (a deploy without SnapStart has none)."""
        found = self.call("GetAlias", self._get_alias, missing_ok=missing_ok)
        if found is None:
            return None
        self.original_version = str(found["FunctionVersion"])
        return self.original_version

    def _get_alias(self, *, missing_ok: bool) -> Any:
        try:
            return self.client.get_alias(FunctionName=self.function_name, Name=self.alias)
        except Exception as exc:
            if missing_ok and error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    def publish_and_point(self) -> str:
        """Publish ``$LATEST``, wait until the version is Active, point the alias at it; the version."""
        version = str(self.call("PublishVersion", self.client.publish_version,
                                FunctionName=self.function_name)["Version"])
        if version in self.published or version == self.original_version:
            raise SnapStartAliasError(f"{self.function_name}: PublishVersion returned version {version}, which the alias "
                             "already served: $LATEST did not change")
        self.published.append(version)
        self.call("GetFunctionConfiguration", self._wait_active, version=version)
        self.call("UpdateAlias", self.client.update_alias, FunctionName=self.function_name, Name=self.alias,
                  FunctionVersion=version)
        return version

    def restore(self) -> None:
        """Alias back on its original version, then every version published here deleted (idempotent)."""
        if self.original_version is None:
            return
        if any(v not in self.deleted for v in self.published):
            self.call("UpdateAlias", self.client.update_alias, FunctionName=self.function_name, Name=self.alias,
                      FunctionVersion=self.original_version)
        for version in self.published:
            if version not in self.deleted:
                self._delete(version)

    @property
    def restored(self) -> bool:
        return all(v in self.deleted for v in self.published)

    def _wait_active(self, *, version: str) -> None:
        waiter = self.client.get_waiter("published_version_active")
        try:
            waiter.wait(FunctionName=self.function_name, Qualifier=version,
                        WaiterConfig={"Delay": self.delay_s, "MaxAttempts": self.max_attempts})
        except Exception as exc:
            if type(exc).__name__ != "WaiterError":
                raise
            last = getattr(exc, "last_response", {}) or {}
            raise SnapStartAliasError(f"{self.function_name}: version {version} did not become Active "
                                      f"(State={last.get('State')!r}, reason={last.get('StateReason')!r})") from exc

    def _delete(self, version: str) -> None:
        self.call("DeleteFunction", self.client.delete_function, FunctionName=self.function_name, Qualifier=version)
        self.deleted.append(version)

