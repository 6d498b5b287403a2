"""Face clustering: pure, I/O-free algorithms (arrays in, labels out) and the service that runs them.

Pure: :mod:`params` (per-model defaults), :mod:`knn` (neighbour graph), :mod:`clusterer`
(HDBSCAN on that graph, then the steps below), :mod:`cannot_link` (two faces of one photo are
two people), :mod:`merge` (pieces of one person), :mod:`noise` (second pass for unassigned
faces, and the attach rule), :mod:`reconcile` (new clusters onto previous persons without
losing user work), :mod:`representative` (the face that shows a person).
Over the database: :mod:`cluster_event` (batch clustering of an event), :mod:`incremental` (new
faces between runs), :mod:`job_run` (one Cloud Run Job run). See ``docs/clustering.md``.
"""
