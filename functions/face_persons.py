"""HTTP target ``face_persons``: list an event's persons (members)."""

import flask
import functions_framework

from shared.api.endpoint import serve_user_request
from shared.api.face_persons import list_event_persons
from shared.log import configure_logging
from shared.settings import get_settings

configure_logging(get_settings().log_level)


@functions_framework.http
def face_persons(request: flask.Request) -> flask.Response:
    return serve_user_request(request, get_settings(), "face-persons", ("GET", "POST"), list_event_persons)
