"""Model lifecycle: promote a version, roll back, change the serving threshold, and the
append-only audit of who did which when and why.

Every change is a `LifecycleEvent` appended to the store's audit (the directory store:
`models/history.jsonl`; the topic store: the companion topic `<model topic>_lifecycle`),
and the serving state is derived from that audit plus the champion pointer the store
already had (LATEST, or the newest version on the model topic):

- **promote** points the store at an existing version (LATEST / the version's bundle
  re-appended so it is the newest on the topic): scorers follow it exactly as they follow
  a freshly trained model.
- **rollback** promotes the version that served before the current one (the `previous` of
  the last promote or rollback): two rollbacks in a row toggle between two versions.
- **set-threshold** is an *override record*, not a new version: the event holds the
  version it applies to and the new threshold, and a scorer serving that version applies
  the newest override for it. Chosen over a new version entry because the weights, the
  score distribution and so the per-version quality figures of the monitor stay the same
  model; no artifact is copied or re-uploaded; and an override is bound to the version it
  was calibrated for, so promoting another version never inherits it while rolling back
  to a version restores its override.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fraudstream.model.errors import ModelCorruptError, ModelError, ModelNotFoundError
from fraudstream.model.manifest import ModelManifest
from fraudstream.model.source import ModelStore

__all__ = [
    "Action",
    "LifecycleError",
    "LifecycleEvent",
    "ManagedModelStore",
    "challenger",
    "current_user",
    "mark_candidate",
    "parse_event",
    "promote",
    "rollback",
    "set_threshold",
    "threshold_overrides",
]

Action = Literal["promote", "rollback", "set-threshold", "candidate"]


class LifecycleError(ModelError):
    """A lifecycle change cannot be made (nothing to roll back to, a bad threshold, ...)."""


class LifecycleEvent(BaseModel):
    """One audited change: who, when, why, and the value before and after."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    action: Action
    version: str = Field(description="The version the change is about (the new champion).")
    by: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reason: str
    previous: str | float | None = None
    new: str | float | None = None


def parse_event(text: str | bytes, where: str) -> LifecycleEvent:
    """One event from its JSON; ModelCorruptError naming `where` if it is not one."""
    try:
        return LifecycleEvent.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "(root)"
        raise ModelCorruptError(
            f"{where}: invalid lifecycle event at {loc}: {first['msg']}"
        ) from None


class ManagedModelStore(ModelStore, Protocol):
    """A `ModelStore` an operator can manage: list, promote, audit (both stores are one)."""

    def versions(self) -> list[str]:
        """Every complete version in the store, oldest first."""
        ...

    def manifest(self, version: str) -> ModelManifest:
        """The manifest of `version` (ModelNotFoundError if the store lacks it)."""
        ...

    def champion(self) -> str | None:
        """The version scorers serve now (None while nothing is published)."""
        ...

    def make_champion(self, version: str) -> None:
        """Make an existing version the one scorers serve."""
        ...

    def record(self, event: LifecycleEvent) -> None:
        """Append `event` to the audit (durably: acknowledged before returning)."""
        ...

    def history(self) -> list[LifecycleEvent]:
        """The audit, oldest first."""
        ...

    def threshold_override(self, version: str) -> float | None:
        """The threshold set for `version` by set-threshold (None: the manifest's)."""
        ...


def current_user() -> str:
    """$USER, else the login name, else "unknown" (the default of --by)."""
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def challenger(events: Iterable[LifecycleEvent]) -> str | None:
    """The version marked candidate (`promote --candidate`) and not promoted since: the
    challenger scorers serve in shadow beside the champion."""
    found: str | None = None
    for e in events:
        if e.action == "candidate":
            found = e.version
        elif e.action in ("promote", "rollback") and e.version == found:
            found = None  # the challenger became the champion
    return found


def threshold_overrides(events: Iterable[LifecycleEvent]) -> dict[str, float]:
    """version -> the newest set-threshold value for it."""
    out: dict[str, float] = {}
    for e in events:
        if e.action == "set-threshold" and isinstance(e.new, (int, float)):
            out[e.version] = float(e.new)
    return out


def _require(reason: str, by: str) -> None:
    if not reason.strip():
        raise LifecycleError("a reason is required (--reason)")
    if not by.strip():
        raise LifecycleError("who made the change is required (--by)")


def promote(store: ManagedModelStore, version: str, *, by: str, reason: str) -> LifecycleEvent:
    """Make `version` the champion and record it; the event is returned."""
    _require(reason, by)
    if version not in store.versions():
        raise ModelNotFoundError(f"no version {version} in {store.location}")
    store.manifest(version)  # refuse a version whose manifest does not even parse
    previous = store.champion()
    if previous == version:
        raise LifecycleError(f"{version} is already the champion")
    store.make_champion(version)
    event = LifecycleEvent(
        action="promote", version=version, by=by, reason=reason, previous=previous, new=version
    )
    store.record(event)
    return event


def rollback(store: ManagedModelStore, *, by: str, reason: str) -> LifecycleEvent:
    """Promote the version that served before the current champion, and record it."""
    _require(reason, by)
    current = store.champion()
    target = next(
        (
            e.previous
            for e in reversed(store.history())
            if e.action in ("promote", "rollback") and e.new == current
        ),
        None,
    )
    if not isinstance(target, str):
        raise LifecycleError(
            f"nothing to roll back to: no promote to {current} is recorded in {store.location}"
        )
    if target not in store.versions():
        raise ModelNotFoundError(f"cannot roll back to {target}: no longer in {store.location}")
    store.make_champion(target)
    event = LifecycleEvent(
        action="rollback", version=target, by=by, reason=reason, previous=current, new=target
    )
    store.record(event)
    return event


def set_threshold(
    store: ManagedModelStore,
    value: float,
    *,
    by: str,
    reason: str,
    expected_version: str | None = None,
) -> LifecycleEvent:
    """Override the champion's serving threshold (see the module docstring), and record it.

    `expected_version`: refuse (LifecycleError) if the champion is another version by now
    (a threshold computed for one model must not land on the next)."""
    _require(reason, by)
    if not (value == value and value not in (float("inf"), float("-inf"))) or value < 0:
        raise LifecycleError(f"threshold must be a finite number >= 0, not {value}")
    version = store.champion()
    if version is None:
        raise LifecycleError(f"no champion in {store.location}: promote a version first")
    if expected_version is not None and version != expected_version:
        raise LifecycleError(
            f"the champion is {version} now, not {expected_version}: threshold not changed"
        )
    override = store.threshold_override(version)
    previous = override if override is not None else float(store.manifest(version).threshold)
    event = LifecycleEvent(
        action="set-threshold",
        version=version,
        by=by,
        reason=reason,
        previous=previous,
        new=float(value),
    )
    store.record(event)
    return event


def mark_candidate(
    store: ManagedModelStore, version: str, *, by: str, reason: str
) -> LifecycleEvent:
    """Mark `version` the challenger (served in shadow, never alerting), and record it."""
    _require(reason, by)
    if version not in store.versions():
        raise ModelNotFoundError(f"no version {version} in {store.location}")
    store.manifest(version)
    if version == store.champion():
        raise LifecycleError(f"{version} is the champion, it cannot be its own challenger")
    previous = challenger(store.history())
    if previous == version:
        raise LifecycleError(f"{version} is already the candidate")
    event = LifecycleEvent(
        action="candidate", version=version, by=by, reason=reason, previous=previous, new=version
    )
    store.record(event)
    return event
