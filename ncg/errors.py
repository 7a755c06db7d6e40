"""The exceptions that end a run for a reason the user can act on, and their exit codes.

Library code raises :class:`InputError` with a message that is a complete, single
sentence a user can act on (unknown data set, missing file, value out of range...).
Entry points in ``experiments/`` turn it into one line on stderr and exit code 2;
any other exception is a bug and keeps its traceback.

Exit codes of every entry point (``experiments/workdir.clean_errors``):

* 0: finished, or stopped by SIGTERM/SIGINT after saving a checkpoint (rerun the
  same command to resume);
* 2 (:data:`EXIT_INPUT`): invalid input (config, flag, data file, checkpoint,
  workdir); nothing was written that a rerun would need;
* 3 (:data:`EXIT_DIVERGED`): training diverged (NaN or Inf in the parameters or
  metrics); the last good checkpoint is kept;
* 1: a bug (a traceback).
"""

EXIT_INPUT = 2
EXIT_DIVERGED = 3


class InputError(ValueError):
  """Invalid user input: a data set, a file, a configuration value."""


class Diverged(ArithmeticError):
  """Training produced NaN or Inf; the message names the epoch and likely cause."""


def check(condition: bool, message: str) -> None:
  """Raises ``InputError(message)`` unless ``condition`` holds."""
  if not condition:
    raise InputError(message)
