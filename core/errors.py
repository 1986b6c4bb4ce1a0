"""The error every layer raises for a problem the user can fix: the command line prints its message as one
line (``error: ...``) and exits with ``exit_code``, never with a traceback."""


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""

    exit_code = 2
