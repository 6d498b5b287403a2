"""The whole system on one machine: embedded database, emulators and real HTTP servers.

Used by ``facecluster demo`` (see docs/demo.md) and reusable by tests that need the stack:
``processes`` starts and stops child processes (cleanly, also on Ctrl-C and SIGTERM),
``pubsub_emulator`` runs the Pub/Sub emulator or an in-process stand-in, ``object_store`` keeps
uploaded photos, ``servers`` runs the functions as ``functions-framework`` servers, ``stack``
starts and stops all of it with the review page, and ``demo_session`` drives one run of the
pipeline on a folder of photos.
"""
