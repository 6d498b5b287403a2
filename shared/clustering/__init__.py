"""Face clustering: pure, I/O-free algorithms (arrays in, labels out) and the service that runs them.

Modules: :mod:`params` (per-model defaults), :mod:`knn` (neighbour graph), :mod:`clusterer`
(HDBSCAN on that graph), :mod:`cannot_link` (two faces of one photo are two people),
:mod:`noise` (second pass for noise faces), :mod:`reconcile` (new clusters onto previous persons
without losing user work), :mod:`incremental` (new faces between runs), :mod:`service`
(orchestration over the database).
"""
