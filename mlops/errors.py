"""The one exception type for user mistakes: the CLI prints its message, never a traceback."""


class MlopsError(Exception):
    """A mistake the user can fix: the message names the thing and the fix."""
