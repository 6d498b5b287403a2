"""The HTTP side of the app-facing functions: errors, CORS, authentication, roles, rate limits,
and one service module per endpoint. ``functions/`` holds only the decorated targets."""
