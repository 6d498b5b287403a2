"""HTTP target ``face_person_actions``: assign, merge, rename, ignore, remove a face, GDPR actions."""

import flask
import functions_framework

from shared.api.endpoint import serve_user_request
from shared.api.person_actions import perform_action
from shared.log import configure_logging
from shared.settings import get_settings

configure_logging(get_settings().log_level)


@functions_framework.http
def face_person_actions(request: flask.Request) -> flask.Response:
    return serve_user_request(request, get_settings(), "face-person-actions", ("POST",), perform_action)
