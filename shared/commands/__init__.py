"""Sub-commands of the ``facecluster`` CLI, one module per task group."""
