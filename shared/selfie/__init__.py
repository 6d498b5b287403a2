"""Selfie search: a member's photo of themself finds the persons and photos of an event that are them.

``checks`` picks the one usable face of a selfie or says precisely why there is none;
``params`` holds the per-model distances; ``match`` is the rule, shared by the endpoint
(candidates from pgvector) and the offline ``search-photos`` command (candidates from arrays).
The selfie itself is never stored: only its embedding lives, in memory, for one request.
"""
