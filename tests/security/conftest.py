"""Fixtures the worker and API attacks reuse: the detection service's app and environment, the
functions' clients (tests/detection and tests/functions define them; they are not copied)."""

from tests.detection.conftest import client, detect_env, group_photo
from tests.functions.conftest import (
    actions_api,
    api_env,
    callback_api,
    detect_topic,
    enqueue_api,
    media_inserted_api,
    persons_api,
    world,
)
from tests.selfie.conftest import analysed_photos, photo_event, selfie_api, selfie_env

__all__ = ["actions_api", "analysed_photos", "api_env", "callback_api", "client", "detect_env", "detect_topic",
           "enqueue_api", "group_photo", "media_inserted_api", "persons_api", "photo_event", "selfie_api", "selfie_env",
           "world"]
