"""Fine-tuning jobs as the project remembers them: backend, configuration, state, where the result went.
The backends (training/) drive the states; this module only records them and refuses impossible moves."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.errors import InspectorError, NotFound
from core.store.clock import from_db, utcnow
from core.store.records import JobRecord
from core.store.schema import JOB_STATES, Job

FINISHED = ("succeeded", "failed", "cancelled")
LOG_TAIL_CHARS = 20_000  # keep the end of a log, not a whole training run's output
_FIELDS = ("state", "command", "workdir", "external_id", "result_model_id", "log_tail", "error", "config",
           "snapshot_id", "base_model_id", "profile", "detail")
RESUMABLE = ("failed", "cancelled")


def create_job(session: Session, *, backend: str, config: dict[str, Any] | None = None, profile: str | None = None,
               command: str | None = None, workdir: str | None = None, snapshot_id: int | None = None,
               base_model_id: int | None = None, state: str = "queued") -> JobRecord:
    _check_state(state)
    now = utcnow()
    job_id = session.execute(insert(Job).values(
        backend=backend, profile=profile, state=state, config=json.dumps(config or {}, default=str),
        command=command, workdir=workdir, snapshot_id=snapshot_id, base_model_id=base_model_id,
        created=now, updated=now).returning(Job.id)).scalar_one()
    return get_job(session, job_id)


def update_job(session: Session, job_id: int, **changes: Any) -> JobRecord:
    """Change any of: state, command, workdir, external_id, result_model_id, log_tail, error, config,
    snapshot_id, base_model_id, profile, detail. A finished job cannot go back to queued or running
    (except through `reopen_job`)."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise InspectorError(f"update_job: unknown field(s) {', '.join(sorted(unknown))}")
    current = get_job(session, job_id)
    if "state" in changes:
        _check_state(changes["state"])
        if current.state in FINISHED and changes["state"] != current.state:
            raise InspectorError(f"job {job_id} already {current.state}; it cannot become {changes['state']}")
    if "config" in changes:
        changes["config"] = json.dumps(changes["config"], default=str)
    if changes.get("log_tail"):
        changes["log_tail"] = changes["log_tail"][-LOG_TAIL_CHARS:]
    session.execute(update(Job).where(Job.id == job_id).values(**changes, updated=utcnow()))
    return get_job(session, job_id)


def reopen_job(session: Session, job_id: int, *, detail: str) -> JobRecord:
    """A failed or cancelled job becomes queued again, to continue from its resume state (`inspector
    job resume`): same id, folder and snapshot; a new backend id comes with the new submission."""
    current = get_job(session, job_id)
    if current.state not in RESUMABLE:
        raise InspectorError(f"job {job_id} is {current.state}; only a failed or cancelled job can be resumed")
    session.execute(update(Job).where(Job.id == job_id).values(
        state="queued", external_id=None, error=None, detail=detail, updated=utcnow()))
    return get_job(session, job_id)


def get_job(session: Session, job_id: int) -> JobRecord:
    j = session.get(Job, job_id, populate_existing=True)
    if j is None:
        raise NotFound(f"no job with id {job_id}")
    return _record(j)


def list_jobs(session: Session, *, states: Sequence[str] | None = None, limit: int | None = None) -> list[JobRecord]:
    """Newest first."""
    stmt = select(Job).order_by(Job.id.desc())
    if states is not None:
        stmt = stmt.where(Job.state.in_(list(states)))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_record(j) for j in session.scalars(stmt)]


def _check_state(state: str) -> None:
    if state not in JOB_STATES:
        raise InspectorError(f"job state must be one of {', '.join(JOB_STATES)}, not {state!r}")


def _record(j: Job) -> JobRecord:
    return JobRecord(id=j.id, backend=j.backend, profile=j.profile, state=j.state, config=json.loads(j.config),
                     command=j.command, workdir=j.workdir, external_id=j.external_id, snapshot_id=j.snapshot_id,
                     base_model_id=j.base_model_id, result_model_id=j.result_model_id, created=from_db(j.created),
                     updated=from_db(j.updated), log_tail=j.log_tail, error=j.error, detail=j.detail)
