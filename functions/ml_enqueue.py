"""HTTP target ``ml_enqueue``: organisers request detection or clustering of an event."""

import flask
import functions_framework

from shared.api.endpoint import serve_user_request
from shared.api.ml_enqueue import enqueue
from shared.log import configure_logging
from shared.settings import get_settings

configure_logging(get_settings().log_level)


@functions_framework.http
def ml_enqueue(request: flask.Request) -> flask.Response:
    return serve_user_request(request, get_settings(), "ml-enqueue", ("POST",), enqueue)
