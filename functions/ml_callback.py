"""HTTP target ``ml_callback``: the detection service and the clustering job report finished jobs."""

import flask
import functions_framework

from shared.api.http import serve
from shared.api.ml_callback import handle_callback
from shared.log import configure_logging
from shared.settings import get_settings

configure_logging(get_settings().log_level)


@functions_framework.http
def ml_callback(request: flask.Request) -> flask.Response:
    return serve(request, get_settings(), ("POST",), handle_callback)
