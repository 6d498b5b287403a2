"""The root of errors whose message is meant for the person running the command.

The CLI prints such an error as one line and exits non-zero instead of showing a traceback;
each subsystem derives its own precise errors from it.
"""


class OperatorError(RuntimeError):
    """An expected failure with a message that says what is wrong and what to do."""
