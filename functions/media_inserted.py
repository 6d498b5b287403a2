"""HTTP target ``media_inserted``: the database's webhook when media rows are inserted (starts detection)."""

import flask
import functions_framework

from shared.api.http import serve
from shared.api.media_inserted import handle_media_inserted
from shared.log import configure_logging
from shared.settings import get_settings

configure_logging(get_settings().log_level)


@functions_framework.http
def media_inserted(request: flask.Request) -> flask.Response:
    return serve(request, get_settings(), ("POST",), handle_media_inserted)
