"""Cloud Run Job entry points: thin wrappers that parse arguments and call a service."""
