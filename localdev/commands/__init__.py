"""Development sub-commands of the ``facecluster`` CLI, present only in a checkout."""
