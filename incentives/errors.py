"""What counts as the user's mistake: the one error class the CLI answers in one line.

The toolkit's rule (docs/architecture.md, "Errors"): a mistake the user can fix (a config
value, a file named in the config, a missing program) ends ``incentives-train`` with one
line and exit code 2; anything else is a bug and ends with its traceback and exit code 1.
An error is the user's when its class says so: it subclasses :class:`UserError`, or the
runner lists it (``incentives.run.cli.USER_FIXABLE``) because it comes from a layer that
cannot import this module (``envs``).

Example:
    >>> class BadSetting(UserError):
    ...     pass
    >>> isinstance(BadSetting("seed='abc'; accepted: an integer >= 0"), ValueError)
    True
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(ValueError):
    """A mistake the user can fix; its message is one line: ``<what>; accepted: <what>``.

    A ``ValueError``, so code that catches bad values keeps catching it. Subclassed by
    the runner's ``ConfigError`` (a config value) and ``ResumeError`` (a run folder that
    cannot be resumed).
    """
