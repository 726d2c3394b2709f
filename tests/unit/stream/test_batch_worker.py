"""Classification workers: the worker process gives what the model gives in-process."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from model import Classifier, validate_event
from stream.batch_worker import InlineWorker, ProcessWorker, WorkerFailed, wait_for

EVENTS = [
    validate_event({"id": "a", "headline": "Beijing answers US tariffs on steel with duties"}),
    validate_event({"id": "b", "headline": "NATO allies meet in Brussels", "body": "x " * 50}),
    validate_event({"id": "c", "body": "A quiet day for the local football club."}),
]


@pytest.fixture(scope="module")
def process_worker(tiny_model_dir: Path, tiny_classifier: Classifier):
    worker = ProcessWorker(str(tiny_model_dir), tiny_classifier.manifest.sha256)
    yield worker
    worker.close()


class TestInlineWorker:
    def test_gives_the_classifiers_enrichments(self, tiny_classifier: Classifier) -> None:
        """The future holds exactly what `Classifier.classify` returns."""
        classified = wait_for(InlineWorker(tiny_classifier).submit(EVENTS, "T"))
        assert classified.enrichments == tiny_classifier.classify(EVENTS, "T")
        assert classified.seconds >= 0

    def test_a_model_error_reaches_the_caller(self, tiny_classifier: Classifier) -> None:
        """Anything the model call raises is raised again by `wait_for`."""
        future = InlineWorker(tiny_classifier).submit(["not an event"], "T")  # type: ignore[list-item]
        with pytest.raises(AttributeError):
            wait_for(future)


class TestProcessWorker:
    def test_gives_the_same_enrichments_as_in_process(
        self, process_worker: ProcessWorker, tiny_classifier: Classifier
    ) -> None:
        """The worker loads the same artifact and returns identical enrichments."""
        classified = wait_for(process_worker.submit(EVENTS, "T"))
        assert classified.enrichments == tiny_classifier.classify(EVENTS, "T")

    def test_batches_come_back_in_submission_order(
        self, process_worker: ProcessWorker
    ) -> None:
        """Futures submitted back to back each hold their own batch's enrichments."""
        futures = [process_worker.submit([event], "T") for event in EVENTS]
        assert [wait_for(f).enrichments[0]["model"] for f in futures] == [
            wait_for(process_worker.submit([e], "T")).enrichments[0]["model"] for e in EVENTS
        ]

    def test_an_empty_batch_needs_no_trip(self, process_worker: ProcessWorker) -> None:
        """A batch of only bad input gives a done future with no enrichments."""
        future = process_worker.submit([], "T")
        assert future.done()
        assert wait_for(future).enrichments == []

    def test_a_changed_artifact_is_refused(self, tiny_model_dir: Path) -> None:
        """A worker that loads another model than the loop's fails to start, saying so."""
        with pytest.raises(WorkerFailed, match="expected 0000"):
            ProcessWorker(str(tiny_model_dir), "0" * 64)

    def test_a_missing_artifact_fails_to_start(self, tmp_path: Path) -> None:
        """A model path without an artifact gives WorkerFailed naming the path."""
        with pytest.raises(WorkerFailed, match=str(tmp_path)):
            ProcessWorker(str(tmp_path), "0" * 64)

    def test_a_dead_worker_gives_worker_failed(
        self, tiny_model_dir: Path, tiny_classifier: Classifier
    ) -> None:
        """When the worker process dies, the next result raises WorkerFailed."""
        worker = ProcessWorker(str(tiny_model_dir), tiny_classifier.manifest.sha256)
        try:
            (pid,) = [p.pid for p in worker._pool._processes.values()]
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            with pytest.raises(WorkerFailed, match="died"):
                while time.monotonic() < deadline:
                    wait_for(worker.submit(EVENTS, "T"))
                    time.sleep(0.05)
        finally:
            worker.close()


PARENT_SCRIPT = """
import sys
from model import load_model
from stream.batch_worker import ProcessWorker

if __name__ == "__main__":
    path = sys.argv[1]
    worker = ProcessWorker(path, load_model(path).manifest.sha256)
    print(*[p.pid for p in worker._pool._processes.values()], flush=True)
    sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_orphaned_worker_exits(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A worker whose parent was killed with SIGKILL exits by itself within seconds."""
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT)
    with subprocess.Popen([sys.executable, str(script), str(tiny_model_dir)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL,
                          cwd=Path(__file__).resolve().parents[3]) as parent:
        assert parent.stdout is not None
        worker_pid = int(parent.stdout.readline())
        assert _alive(worker_pid)
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker_pid)
