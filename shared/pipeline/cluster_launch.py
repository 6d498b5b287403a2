"""Start the clustering job of one event: a Cloud Run Job execution, or a local subprocess.

Both run the same entry point, ``python -m jobs.cluster_event --event-id E --job-id J``, for
an ``ml_jobs`` row that the caller has already created (the row, not the runner, is what
makes a run unique per event). Starting returns at once; the job reports through
ml-callback when it finishes. Tests swap the runner with :func:`use_cluster_runner`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any, Protocol

from google.cloud import run_v2

from shared.settings import REPO_ROOT, Settings

logger = logging.getLogger(__name__)

JOB_MODULE = "jobs.cluster_event"


class ClusterRunner(Protocol):
    def start(self, event_id: uuid.UUID, job_id: uuid.UUID) -> str:
        """Start clustering; return a description of what was started (for the log)."""


def cluster_job_args(event_id: uuid.UUID, job_id: uuid.UUID) -> list[str]:
    return ["--event-id", str(event_id), "--job-id", str(job_id)]


class LocalClusterRunner:
    """A detached ``python -m jobs.cluster_event`` with this process's environment (same database)."""

    def start(self, event_id: uuid.UUID, job_id: uuid.UUID) -> str:
        process = subprocess.Popen([sys.executable, "-m", JOB_MODULE, *cluster_job_args(event_id, job_id)],
                                   cwd=REPO_ROOT, env=dict(os.environ), start_new_session=True,
                                   stdin=subprocess.DEVNULL)
        return f"local process {process.pid}"


class CloudRunClusterRunner:
    """``JobsClient.run_job`` on ``CLUSTER_JOB_NAME`` with the event and job ids as container args."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.job_name = (f"projects/{settings.google_cloud_project}/locations/{settings.cloud_run_region}"
                         f"/jobs/{settings.cluster_job_name}")
        self._client = client

    def build_request(self, event_id: uuid.UUID, job_id: uuid.UUID) -> run_v2.RunJobRequest:
        return run_v2.RunJobRequest(
            name=self.job_name,
            overrides=run_v2.RunJobRequest.Overrides(container_overrides=[
                run_v2.RunJobRequest.Overrides.ContainerOverride(args=cluster_job_args(event_id, job_id))]))

    def start(self, event_id: uuid.UUID, job_id: uuid.UUID) -> str:
        if self._client is None:  # created on first use: building it needs credentials
            self._client = run_v2.JobsClient()
        operation = self._client.run_job(request=self.build_request(event_id, job_id))
        # Do not wait for the execution: it runs for minutes and reports through ml-callback.
        return f"Cloud Run execution of {self.job_name} ({operation.operation.name})"


_override: ClusterRunner | None = None


@functools.cache
def _configured_runner(settings: Settings) -> ClusterRunner:
    return CloudRunClusterRunner(settings) if settings.cluster_runner == "cloud-run" else LocalClusterRunner()


def get_cluster_runner(settings: Settings) -> ClusterRunner:
    """The runner ``CLUSTER_RUNNER`` selects (one per process), unless a test replaced it."""
    return _override if _override is not None else _configured_runner(settings)


@contextlib.contextmanager
def use_cluster_runner(runner: ClusterRunner) -> Iterator[None]:
    """Replace the configured runner inside the block (tests record starts instead of running jobs)."""
    global _override
    previous, _override = _override, runner
    try:
        yield
    finally:
        _override = previous
