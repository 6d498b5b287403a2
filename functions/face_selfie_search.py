"""HTTP target ``face_selfie_search``: a member finds the persons and photos that are them (selfie body)."""

import functools

import flask
import functions_framework

from shared.api.endpoint import serve_user_request
from shared.api.selfie_search import search_by_selfie, selfie_rate_limit, selfie_request
from shared.log import configure_logging
from shared.settings import get_settings

configure_logging(get_settings().log_level)


@functions_framework.http
def face_selfie_search(request: flask.Request) -> flask.Response:
    settings = get_settings()
    return serve_user_request(request, settings, "face-selfie-search", ("POST",), search_by_selfie,
                              read_params=functools.partial(selfie_request, max_bytes=settings.selfie_max_bytes),
                              max_body=settings.selfie_max_bytes, rate_limit=selfie_rate_limit)
