"""The one exception type that means "the user asked for something invalid".

Library code raises :class:`InputError` with a message that is a complete, single
sentence a user can act on (unknown data set, missing file, value out of range...).
Entry points in ``experiments/`` turn it into one line on stderr and exit code 2;
any other exception is a bug and keeps its traceback.
"""


class InputError(ValueError):
  """Invalid user input: a data set, a file, a configuration value."""


def check(condition: bool, message: str) -> None:
  """Raises ``InputError(message)`` unless ``condition`` holds."""
  if not condition:
    raise InputError(message)
