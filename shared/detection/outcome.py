"""What became of one delivery, in terms the transport maps to a status code.

The service decides *what* happened (work done, failed for good, retry later, malformed);
the HTTP layer alone turns that into 200/400/5xx, which is what Pub/Sub's retries follow.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Disposition(enum.Enum):
    ACK = "ack"          # done, or failed for good (recorded in ml_jobs): never redeliver
    REJECT = "reject"    # the message itself is malformed: redelivery cannot help (dead-letters)
    RETRY = "retry"      # transient (database, storage, lease held elsewhere): redeliver later
    ERROR = "error"      # unexpected failure (a bug, broken model files): redeliver, and look at the logs


@dataclass(frozen=True)
class DeliveryResult:
    disposition: Disposition
    status: str                      # completed | failed | skipped | duplicate | ignored | busy | retry | ...
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, **self.detail}


def ack(status: str, **detail: Any) -> DeliveryResult:
    return DeliveryResult(Disposition.ACK, status, detail)


def reject(error: str) -> DeliveryResult:
    return DeliveryResult(Disposition.REJECT, "rejected", {"error": error})


def retry(status: str, error: str) -> DeliveryResult:
    return DeliveryResult(Disposition.RETRY, status, {"error": error})
