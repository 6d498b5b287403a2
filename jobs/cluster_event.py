"""Cloud Run Job: cluster one event's faces into persons.

    python -m jobs.cluster_event --event-id <uuid> [--job-id <uuid>]

The ids come from the arguments (``gcloud run jobs execute --args``, or ml-enqueue's container
override) or from ``EVENT_ID`` / ``JOB_ID`` (``--update-env-vars``); an argument wins over the
environment. Exit code 0: clustered, or nothing to do (another run holds the event); non-zero:
failed, with the reason in ``ml_jobs.error`` and the log.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from collections.abc import Sequence

from shared.clustering.job_run import run_cluster_job
from shared.errors import OperatorError
from shared.log import configure_logging
from shared.settings import SettingsError, get_settings

logger = logging.getLogger("jobs.cluster_event")


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {value!r}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jobs.cluster_event", description=__doc__.splitlines()[0])
    parser.add_argument("--event-id", type=_uuid, default=None, help="event to cluster (else EVENT_ID)")
    parser.add_argument("--job-id", type=_uuid, default=None, help="ml_jobs row to claim (else JOB_ID; "
                        "none: create one)")
    args = parser.parse_args(argv)
    try:
        args.event_id = args.event_id or (_uuid(os.environ["EVENT_ID"]) if os.environ.get("EVENT_ID") else None)
        args.job_id = args.job_id or (_uuid(os.environ["JOB_ID"]) if os.environ.get("JOB_ID") else None)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.event_id is None:
        parser.error("an event id is required: --event-id or EVENT_ID")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"cluster_event: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    logger.info("clustering job started", extra={
        "event_id": str(args.event_id), "job_id": str(args.job_id) if args.job_id else None,
        "cloud_run_execution": os.environ.get("CLOUD_RUN_EXECUTION"),
        "cloud_run_task_index": os.environ.get("CLOUD_RUN_TASK_INDEX")})
    try:
        outcome = run_cluster_job(settings, args.event_id, args.job_id)
    except OperatorError as exc:  # e.g. the database is unreachable: nothing was recorded
        logger.error("clustering job could not run: %s", exc)
        return 1
    logger.info("clustering job finished: %s", outcome.message, extra={"status": outcome.status.value})
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
