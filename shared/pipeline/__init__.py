"""The job pipeline: how a photo becomes faces and faces become persons, one module per step.

Every step writes its outcome to ``ml_jobs`` first (all of that SQL is in :mod:`shared.db.ml_jobs`)
and only then signals the next one, so any signal may be lost or repeated: the database says
what is left to do and the sweep picks it up.

1. **Detect jobs are created** for media that need them: by the app through ml-enqueue
   (:mod:`.detect_requests`), or without the app by a Cloud Storage upload notification
   (:mod:`.upload_notifications`) or by the database when a media row is inserted
   (:mod:`.media_inserts`: a trigger records the media and nudges ml-media-inserted).
2. **One Pub/Sub message per job** (:mod:`.messages`, the wire form and where a message is
   parsed), published in batches (:mod:`.publisher`).
3. **The detection service** receives the push and runs the job (:mod:`shared.detection`,
   target ``functions/detect_push.py``), then signals ml-callback after the ack (:mod:`.job_signal`).
4. **ml-callback** (``functions/ml_callback.py``) asks :mod:`.cluster_trigger` whether the
   event is ready to cluster; it starts the clustering job exactly once.
5. **The clustering job** is launched as a Cloud Run Job or a local process
   (:mod:`.cluster_launch`); it runs ``jobs/cluster_event.py``, which clusters the event with
   :mod:`shared.clustering.cluster_event` and signals ml-callback when it is done.

The **sweep** (:func:`.cluster_trigger.sweep`, Cloud Scheduler → ml-callback) republishes detect
jobs whose message was lost, starts detection of inserted media whose nudge was lost, restarts
clustering jobs whose runner died and re-evaluates every event with unassigned faces.
"""
