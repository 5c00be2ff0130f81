"""Uploads as background jobs: ``POST /v1/collections/{c}/documents`` and
``/v1/collections/{c}/jobs``.

The POST spools the files to disk (each at most ``max_file_bytes``; the body-size
middleware bounds the whole request, and a client leaving mid-body stops the form parser
before anything is spooled or queued), queues a job and answers ``202`` with it and its
``Location``. Clients poll ``GET .../jobs/{id}`` until it is ``succeeded``, ``failed``
or ``cancelled``, and cancel it with ``DELETE``. Another tenant's job is a 404.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from switchboard.api.knowledge_routes import KnowledgeDep, TenantDep, collection_ref
from switchboard.api.knowledge_schemas import (
    IngestFailureBody,
    IngestResponse,
    JobBody,
    JobErrorBody,
    JobList,
    JobProgressBody,
)
from switchboard.api.openapi import error_responses
from switchboard.errors import InvalidRequestError, PayloadTooLargeError
from switchboard.rag.jobs import IngestJobs, Job

router = APIRouter(prefix="/v1")
UPLOAD_CHUNK = 1 << 20


async def get_jobs(request: Request) -> IngestJobs:
    jobs: IngestJobs = request.app.state.jobs
    return jobs


JobsDep = Annotated[IngestJobs, Depends(get_jobs)]


@router.post("/collections/{collection}/documents", status_code=202, responses=error_responses(503))
async def upload_documents(
    collection: str,
    response: Response,
    kb: KnowledgeDep,
    jobs: JobsDep,
    tenant: TenantDep,
    files: Annotated[list[UploadFile], File(description="Documents; ids are their file names.")],
) -> JobBody:
    """Queue the ingestion of uploaded files (idempotent by content hash, like
    ``switchboard ingest``); poll the job in ``Location`` for its report."""
    ref = collection_ref(tenant, collection)
    names = _file_names(files)
    await run_in_threadpool(jobs.check_capacity)
    spool = Path(tempfile.mkdtemp(prefix="switchboard-upload-"))
    try:
        for upload, name in zip(files, names, strict=True):
            await _save(upload, spool / name, kb.settings.max_file_bytes)
        job = await run_in_threadpool(jobs.submit, ref, spool, names)
    except BaseException:
        shutil.rmtree(spool, ignore_errors=True)
        raise
    response.headers["Location"] = f"/v1/collections/{collection}/jobs/{job.id}"
    return job_body(job)


@router.get("/collections/{collection}/jobs")
async def list_jobs(
    collection: str,
    jobs: JobsDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    """The collection's upload jobs, newest first (finished ones are kept for a while)."""
    found = await run_in_threadpool(jobs.list_jobs, collection_ref(tenant, collection), limit)
    return JobList(data=[job_body(job) for job in found])


@router.get("/collections/{collection}/jobs/{job_id}", responses=error_responses(404))
async def get_job(collection: str, job_id: str, jobs: JobsDep, tenant: TenantDep) -> JobBody:
    job = await run_in_threadpool(jobs.get, collection_ref(tenant, collection), job_id)
    return job_body(job)


@router.delete("/collections/{collection}/jobs/{job_id}", responses=error_responses(404))
async def cancel_job(collection: str, job_id: str, jobs: JobsDep, tenant: TenantDep) -> JobBody:
    """Cancel a job: a queued one at once, a running one at its next document or
    embedding batch (``cancelling`` until then). Documents already committed stay."""
    job = await run_in_threadpool(jobs.cancel, collection_ref(tenant, collection), job_id)
    return job_body(job)


def job_body(job: Job) -> JobBody:
    p, report = job.progress, job.report
    return JobBody(
        id=job.id,
        collection=job.collection,
        status=job.status,
        files=list(job.files),
        progress=JobProgressBody(
            files_done=p.files_done,
            files_total=p.files_total,
            chunks_done=p.chunks_done,
            chunks_total=p.chunks_total,
        ),
        created_at=int(job.created_at),
        started_at=None if job.started_at is None else int(job.started_at),
        finished_at=None if job.finished_at is None else int(job.finished_at),
        report=None
        if report is None
        else IngestResponse(
            collection=job.collection,
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            chunks=report.chunks,
            failed=[
                IngestFailureBody(path=f.path, line=f.line, kind=f.kind.value, reason=f.reason)
                for f in report.failed
            ],
        ),
        error=None if job.error is None else JobErrorBody(**vars(job.error)),
    )


def _file_names(files: list[UploadFile]) -> list[str]:
    names: list[str] = []
    for upload in files:
        name = Path(upload.filename or "").name
        if not name or name.startswith(".") or "\x00" in name or len(name.encode()) > 255:
            raise InvalidRequestError(
                "every file needs a plain name (no leading '.', at most 255 bytes)", param="files"
            )
        if name in names:
            raise InvalidRequestError(f"file {name!r} was uploaded twice", param="files")
        names.append(name)
    return names


async def _save(upload: UploadFile, path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(UPLOAD_CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(
                    f"{path.name} is over the upload limit of {limit} bytes", param="files"
                )
            out.write(chunk)
