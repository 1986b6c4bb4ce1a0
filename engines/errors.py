"""Errors the deployment side raises with a complete, user-facing message.

``EngineError`` is a ``ValueError`` so callers that already turn ``ValueError`` into a one-line CLI error
keep working; ``percept_cli`` maps it to its ``UserError`` (engines never import percept.cli).
"""

from __future__ import annotations


class EngineError(ValueError):
    """Export, build or runtime problem the user can fix (missing package, bad file, wrong machine)."""


class BackendUnavailable(EngineError):
    """The requested backend cannot run here; the message says what is missing and how to install it."""


class EngineMismatch(EngineError):
    """An engine's build record does not match this machine (or is missing)."""
