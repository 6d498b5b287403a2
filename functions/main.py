"""Every HTTP target of the repository, for ``functions-framework --source functions/main.py --target <name>``."""

from functions.detect_push import detect_push  # noqa: F401
from functions.face_person_actions import face_person_actions  # noqa: F401
from functions.face_persons import face_persons  # noqa: F401
from functions.ml_callback import ml_callback  # noqa: F401
from functions.ml_enqueue import ml_enqueue  # noqa: F401
