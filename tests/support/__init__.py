"""Reusable test fixtures for real components on loopback (a pytest plugin, see tests/conftest.py).

* ``pubsub_emulator`` — the Google Cloud SDK Pub/Sub emulator (session), with topic and push
  subscription helpers.
* ``gcs_emulator`` / ``gcs_bucket`` — gcp-storage-emulator in memory (session) / a fresh bucket
  with ``STORAGE_EMULATOR_HOST`` set.
* ``supabase_storage`` — a stand-in for Supabase Storage's object API (downloads, signed URLs).
* ``callback_recorder`` — a stand-in for ml-callback that records reports.
* ``media_insert_forwarding`` — ml-media-inserted on loopback, fed by the local stack's listener.
* ``oidc_signer`` — RS256 tokens as Pub/Sub push attaches them, with their certs served locally.
* ``browser`` — headless Chromium through Playwright (module scope).
* :func:`tests.support.loopback.serve_wsgi` — any WSGI app on a free loopback port.
"""

from tests.support.browser import browser
from tests.support.callbacks import callback_recorder
from tests.support.gcs_emulator import gcs_bucket, gcs_emulator
from tests.support.media_inserts import media_insert_forwarding
from tests.support.oidc import oidc_signer
from tests.support.pubsub_emulator import pubsub_emulator
from tests.support.supabase_storage import supabase_storage

__all__ = ["browser", "callback_recorder", "gcs_bucket", "gcs_emulator", "media_insert_forwarding", "oidc_signer",
           "pubsub_emulator", "supabase_storage"]
