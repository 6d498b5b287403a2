"""The detection service: Pub/Sub deliveries in, faces in Postgres, a signal to ml-callback.

``push`` unwraps deliveries, ``oidc`` checks who sent them, ``dispatch`` routes a message,
``detect_job`` runs one detect job, ``health`` reports readiness (storage notifications become
jobs in :mod:`shared.pipeline.upload_notifications`). The HTTP target is ``functions/detect_push.py``.
"""
