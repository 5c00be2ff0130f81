"""Upload jobs with a scripted ingestor: the state machine, one job at a time, limits,
cancellation, restarts, retention and tenant scoping. The job store is a real SQLite file
in ``tmp_path``; the ingestor stands in for the real one (see ``test_rag_ingest`` for its
own side of the monitor contract)."""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from switchboard.config import IngestJobSettings
from switchboard.errors import JobNotFoundError, JobQueueFullError
from switchboard.rag.ingest import IngestReport
from switchboard.rag.ingest_monitor import IngestMonitor, IngestStopped
from switchboard.rag.jobs import IngestJobs, Job, JobProgress, JobStatus, JobStore
from switchboard.rag.jobs.monitor import JobMonitor
from switchboard.rag.loaders import FailureKind, LoadFailure
from switchboard.rag.types import CollectionRef
from tests.unit.fakes import ManualClock

pytestmark = pytest.mark.unit

REF = CollectionRef("acme", "docs")
HANG_GUARD_S = 30.0


class ScriptedIngestor:
    """Ingests each spooled file as one document of one chunk per line, treating its
    monitor as the real ingestor does: a checkpoint before each file, chunks reported when
    cut, a checkpoint before "embedding" them, then the commit. A file whose name starts
    with ``bad`` fails to load. While ``held``, it waits before each file for a permit from
    ``release``, checking its monitor meanwhile (as a long embedding batch ends)."""

    def __init__(self, clock: ManualClock, seconds_per_file: float = 0.0) -> None:
        self.clock = clock
        self.seconds_per_file = seconds_per_file
        self.held = False
        self.permits = threading.Semaphore(0)
        self.arrived: queue.Queue[str] = queue.Queue()
        self.committed: list[tuple[CollectionRef, str]] = []
        self.error: Exception | None = None

    def release(self, files: int = 1) -> None:
        for _ in range(files):
            self.permits.release()

    def ingest_files(
        self,
        ref: CollectionRef,
        files: Sequence[tuple[Path, Path]],
        *,
        max_bytes: int,
        source: Callable[[Path], str] | None,
        monitor: IngestMonitor,
    ) -> IngestReport:
        if self.error is not None:
            raise self.error
        report = IngestReport()
        try:
            for _, path in files:
                monitor.checkpoint()
                self._wait(path.name, monitor)
                self.clock.advance(self.seconds_per_file)
                if path.name.startswith("bad"):
                    report.failures.append(LoadFailure(path.name, FailureKind.EMPTY, "blank"))
                    monitor.file_done()
                    continue
                chunks = len(path.read_text().splitlines())
                monitor.chunked(chunks)
                monitor.checkpoint()
                self.committed.append((ref, path.name))
                report.added += 1
                report.chunks += chunks
                monitor.stored(chunks)
                monitor.file_done()
        except IngestStopped as stop:
            report.stopped = stop
        return report

    def _wait(self, name: str, monitor: IngestMonitor) -> None:
        self.arrived.put(name)
        while self.held and not self.permits.acquire(timeout=0.01):
            monitor.checkpoint()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def wall() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def ingestor(clock: ManualClock) -> ScriptedIngestor:
    return ScriptedIngestor(clock)


def open_jobs(
    tmp_path: Path,
    ingestor: ScriptedIngestor,
    clock: ManualClock,
    wall: ManualClock,
    **limits: float,
) -> IngestJobs:
    store = JobStore(tmp_path / "jobs.sqlite3", now=wall)
    settings = IngestJobSettings(**limits)  # type: ignore[arg-type]
    return IngestJobs(store, ingestor, settings, max_file_bytes=1 << 20, clock=clock, now=wall)


@pytest.fixture
def jobs(
    tmp_path: Path, ingestor: ScriptedIngestor, clock: ManualClock, wall: ManualClock
) -> Iterator[IngestJobs]:
    jobs = open_jobs(tmp_path, ingestor, clock, wall)
    yield jobs
    ingestor.held = False
    jobs.close()


def spool(tmp_path: Path, files: dict[str, int]) -> tuple[Path, list[str]]:
    """A spool folder holding ``files`` (name → lines, i.e. chunks)."""
    folder = Path(tempfile.mkdtemp(prefix="spool-", dir=tmp_path))
    for name, lines in files.items():
        (folder / name).write_text("".join(f"line {i}\n" for i in range(lines)))
    return folder, list(files)


def submit(
    jobs: IngestJobs, tmp_path: Path, files: dict[str, int], ref: CollectionRef = REF
) -> Job:
    folder, names = spool(tmp_path, files)
    return jobs.submit(ref, folder, names)


def wait_finished(jobs: IngestJobs, job: Job, ref: CollectionRef = REF) -> Job:
    deadline = time.monotonic() + HANG_GUARD_S
    while not (current := jobs.get(ref, job.id)).status.finished:
        if time.monotonic() > deadline:
            pytest.fail(f"job {job.id} still {current.status} after {HANG_GUARD_S} s")
        time.sleep(0.005)
    return current


def test_a_job_runs_to_success_with_its_report_progress_and_files_removed(
    jobs: IngestJobs, ingestor: ScriptedIngestor, tmp_path: Path
) -> None:
    queued = submit(jobs, tmp_path, {"a.md": 2, "bad.md": 0, "b.md": 3})
    assert queued.status is JobStatus.QUEUED
    assert queued.files == ("a.md", "bad.md", "b.md")
    assert queued.id.startswith("job_")

    done = wait_finished(jobs, queued)

    assert done.status is JobStatus.SUCCEEDED
    assert done.error is None
    assert done.progress == JobProgress(files_done=3, files_total=3, chunks_done=5, chunks_total=5)
    assert done.report is not None
    assert (done.report.added, done.report.chunks) == (2, 5)
    assert [(f.path, f.kind) for f in done.report.failed] == [("bad.md", FailureKind.EMPTY)]
    assert done.started_at is not None
    assert done.finished_at is not None
    assert [name for _, name in ingestor.committed] == ["a.md", "b.md"]
    assert not queued.spool.exists()
    assert jobs.list_jobs(REF) == [done]


def test_jobs_run_one_at_a_time_in_order(
    jobs: IngestJobs, ingestor: ScriptedIngestor, tmp_path: Path
) -> None:
    ingestor.held = True
    first = submit(jobs, tmp_path, {"a.md": 1})
    assert ingestor.arrived.get(timeout=HANG_GUARD_S) == "a.md"
    second = submit(jobs, tmp_path, {"b.md": 1})

    assert jobs.get(REF, first.id).status is JobStatus.RUNNING
    assert jobs.get(REF, second.id).status is JobStatus.QUEUED
    assert ingestor.arrived.empty()  # the second waits for the first

    ingestor.release(2)
    assert wait_finished(jobs, first).status is JobStatus.SUCCEEDED
    assert wait_finished(jobs, second).status is JobStatus.SUCCEEDED
    assert [name for _, name in ingestor.committed] == ["a.md", "b.md"]
    assert [j.id for j in jobs.list_jobs(REF)] == [second.id, first.id]  # newest first


def test_a_running_job_reports_live_progress(
    jobs: IngestJobs, ingestor: ScriptedIngestor, tmp_path: Path
) -> None:
    ingestor.held = True
    job = submit(jobs, tmp_path, {"a.md": 2, "b.md": 3})
    ingestor.release()
    assert [ingestor.arrived.get(timeout=HANG_GUARD_S) for _ in range(2)] == ["a.md", "b.md"]

    running = jobs.get(REF, job.id)

    assert running.status is JobStatus.RUNNING
    assert running.progress == JobProgress(
        files_done=1, files_total=2, chunks_done=2, chunks_total=2
    )
    ingestor.release()
    assert wait_finished(jobs, job).progress.chunks_done == 5


def test_cancelling_a_queued_job_means_it_never_runs(
    jobs: IngestJobs, ingestor: ScriptedIngestor, tmp_path: Path
) -> None:
    ingestor.held = True
    first = submit(jobs, tmp_path, {"a.md": 1})
    assert ingestor.arrived.get(timeout=HANG_GUARD_S) == "a.md"
    second = submit(jobs, tmp_path, {"b.md": 1})

    cancelled = jobs.cancel(REF, second.id)

    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.finished_at is not None
    assert not second.spool.exists()
    ingestor.release()
    assert wait_finished(jobs, first).status is JobStatus.SUCCEEDED
    assert [name for _, name in ingestor.committed] == ["a.md"]
    assert jobs.get(REF, second.id).status is JobStatus.CANCELLED


def test_cancelling_a_running_job_stops_it_at_the_next_checkpoint(
    jobs: IngestJobs, ingestor: ScriptedIngestor, tmp_path: Path
) -> None:
    ingestor.held = True
    job = submit(jobs, tmp_path, {"a.md": 1, "b.md": 1, "c.md": 1})
    ingestor.release()  # a.md goes through
    assert [ingestor.arrived.get(timeout=HANG_GUARD_S) for _ in range(2)] == ["a.md", "b.md"]

    cancelling = jobs.cancel(REF, job.id)

    assert cancelling.status in {JobStatus.CANCELLING, JobStatus.CANCELLED}
    done = wait_finished(jobs, job)
    assert done.status is JobStatus.CANCELLED
    assert done.error is None
    assert done.report is not None
    assert (done.report.added, done.progress.files_done) == (1, 1)
    assert [name for _, name in ingestor.committed] == ["a.md"]  # nothing after the cancel
    assert not job.spool.exists()
    assert jobs.cancel(REF, job.id).status is JobStatus.CANCELLED  # idempotent


def test_over_max_chunks_the_job_fails_naming_the_setting_and_keeps_what_it_committed(
    tmp_path: Path, ingestor: ScriptedIngestor, clock: ManualClock, wall: ManualClock
) -> None:
    jobs = open_jobs(tmp_path, ingestor, clock, wall, max_chunks=5)
    try:
        job = submit(jobs, tmp_path, {"a.md": 3, "b.md": 4, "c.md": 1})
        done = wait_finished(jobs, job)
    finally:
        jobs.close()

    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "max_chunks_exceeded"
    assert "knowledge.jobs.max_chunks" in done.error.message
    assert [name for _, name in ingestor.committed] == ["a.md"]
    assert done.report is not None
    assert done.report.added == 1
    assert done.progress.chunks_total == 7  # b.md was cut, then refused before embedding


def test_over_max_seconds_the_job_fails_naming_the_setting(
    tmp_path: Path, clock: ManualClock, wall: ManualClock
) -> None:
    ingestor = ScriptedIngestor(clock, seconds_per_file=60.0)
    jobs = open_jobs(tmp_path, ingestor, clock, wall, max_seconds=100.0)
    try:
        done = wait_finished(jobs, submit(jobs, tmp_path, {"a.md": 1, "b.md": 1, "c.md": 1}))
    finally:
        jobs.close()

    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "max_seconds_exceeded"
    assert "knowledge.jobs.max_seconds" in done.error.message
    assert [name for _, name in ingestor.committed] == ["a.md"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValueError("collection acme/docs uses another embedding model"), "invalid_collection"),
        (RuntimeError("disk I/O error"), "ingest_error"),
    ],
)
def test_an_ingestor_error_fails_the_job_with_its_reason(
    jobs: IngestJobs, ingestor: ScriptedIngestor, tmp_path: Path, error: Exception, code: str
) -> None:
    ingestor.error = error
    done = wait_finished(jobs, submit(jobs, tmp_path, {"a.md": 1}))
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == code
    assert str(error) in done.error.message
    assert not done.spool.exists()


def test_another_tenants_or_collections_job_is_not_found(jobs: IngestJobs, tmp_path: Path) -> None:
    job = wait_finished(jobs, submit(jobs, tmp_path, {"a.md": 1}))
    for other in (CollectionRef("globex", "docs"), CollectionRef("acme", "other")):
        with pytest.raises(JobNotFoundError):
            jobs.get(other, job.id)
        with pytest.raises(JobNotFoundError):
            jobs.cancel(other, job.id)
        assert jobs.list_jobs(other) == []
    with pytest.raises(JobNotFoundError):
        jobs.get(REF, "job_missing")


def test_a_full_queue_refuses_new_jobs(
    tmp_path: Path, ingestor: ScriptedIngestor, clock: ManualClock, wall: ManualClock
) -> None:
    jobs = open_jobs(tmp_path, ingestor, clock, wall, max_queued=1)
    ingestor.held = True
    try:
        submit(jobs, tmp_path, {"a.md": 1})
        assert ingestor.arrived.get(timeout=HANG_GUARD_S) == "a.md"  # running, not queued
        submit(jobs, tmp_path, {"b.md": 1})
        with pytest.raises(JobQueueFullError) as full:
            jobs.check_capacity()
        assert full.value.status_code == 503
        with pytest.raises(JobQueueFullError):
            submit(jobs, tmp_path, {"c.md": 1})
    finally:
        ingestor.held = False
        jobs.close()


def test_finished_jobs_are_kept_per_tenant_up_to_keep_and_for_ttl(
    tmp_path: Path, ingestor: ScriptedIngestor, clock: ManualClock, wall: ManualClock
) -> None:
    jobs = open_jobs(tmp_path, ingestor, clock, wall, keep=2, ttl_s=3600.0)
    other = CollectionRef("globex", "docs")
    try:
        theirs = wait_finished(jobs, submit(jobs, tmp_path, {"t.md": 1}, other), other)
        ours = []
        for name in ("a.md", "b.md", "c.md"):
            wall.advance(1)
            ours.append(wait_finished(jobs, submit(jobs, tmp_path, {name: 1})))
        listed = [j.id for j in jobs.list_jobs(REF)]
        assert listed == [ours[2].id, ours[1].id]  # pruned when the third was submitted
        assert jobs.get(other, theirs.id).status is JobStatus.SUCCEEDED  # other tenants keep theirs

        wall.advance(3601)
        fresh = wait_finished(jobs, submit(jobs, tmp_path, {"d.md": 1}))
        assert [j.id for j in jobs.list_jobs(REF)] == [fresh.id]
        assert jobs.list_jobs(other) == []
    finally:
        jobs.close()


def test_a_restart_fails_lost_jobs_and_removes_their_files(
    tmp_path: Path, ingestor: ScriptedIngestor, clock: ManualClock, wall: ManualClock
) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3", now=wall)
    left: dict[JobStatus, Job] = {}
    for status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING):
        folder, names = spool(tmp_path, {"a.md": 1})
        job = Job(f"job_{status}", REF.tenant, REF.name, status, tuple(names), folder, wall())
        store.insert(job)
        left[status] = job
    store.close()

    jobs = open_jobs(tmp_path, ingestor, clock, wall)  # the next process
    try:
        for status in (JobStatus.QUEUED, JobStatus.RUNNING):
            lost = jobs.get(REF, left[status].id)
            assert lost.status is JobStatus.FAILED
            assert lost.error is not None
            assert lost.error.code == "job_lost"
            assert "Upload the files again" in lost.error.message
        assert jobs.get(REF, left[JobStatus.CANCELLING].id).status is JobStatus.CANCELLED
        assert not any(job.spool.exists() for job in left.values())
        assert ingestor.committed == []
    finally:
        jobs.close()


def test_close_stops_a_running_job_which_then_reads_lost(
    tmp_path: Path, ingestor: ScriptedIngestor, clock: ManualClock, wall: ManualClock
) -> None:
    jobs = open_jobs(tmp_path, ingestor, clock, wall)
    ingestor.held = True
    job = submit(jobs, tmp_path, {"a.md": 1, "b.md": 1})
    queued = submit(jobs, tmp_path, {"c.md": 1})
    assert ingestor.arrived.get(timeout=HANG_GUARD_S) == "a.md"

    jobs.close()  # returns once the running job reached its next checkpoint

    reopened = open_jobs(tmp_path, ingestor, clock, wall)
    try:
        for stopped in (reopened.get(REF, job.id), reopened.get(REF, queued.id)):
            assert stopped.status is JobStatus.FAILED
            assert stopped.error is not None
            assert stopped.error.code == "job_lost"
        assert ingestor.committed == []
        assert not job.spool.exists()
        assert not queued.spool.exists()
    finally:
        reopened.close()


# -- the monitor alone -----------------------------------------------------------------------


def test_the_monitor_stops_past_its_deadline_at_a_checkpoint(clock: ManualClock) -> None:
    monitor = JobMonitor(2, IngestJobSettings(max_seconds=10.0), clock)
    clock.advance(10.0)
    monitor.checkpoint()  # at the deadline: still allowed
    clock.advance(0.5)
    with pytest.raises(IngestStopped) as late:
        monitor.checkpoint()
    assert late.value.code == "max_seconds_exceeded"


def test_the_monitor_refuses_chunks_past_the_limit_and_counts_progress(
    clock: ManualClock,
) -> None:
    monitor = JobMonitor(3, IngestJobSettings(max_chunks=10), clock)
    monitor.chunked(6)
    monitor.stored(6)
    monitor.file_done()
    monitor.chunked(4)  # exactly at the limit
    with pytest.raises(IngestStopped) as over:
        monitor.chunked(1)
    assert over.value.code == "max_chunks_exceeded"
    assert monitor.progress == JobProgress(
        files_done=1, files_total=3, chunks_done=6, chunks_total=11
    )


def test_the_first_reason_to_stop_wins(clock: ManualClock) -> None:
    monitor = JobMonitor(1, IngestJobSettings(), clock)
    monitor.checkpoint()
    monitor.cancel()
    monitor.stop(IngestStopped("job_lost", "server stopping"))
    with pytest.raises(IngestStopped) as stopped:
        monitor.checkpoint()
    assert stopped.value.code == "cancelled"
