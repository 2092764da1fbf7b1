"""The refusals of ticket actions, named by meaning; the API maps each to one HTTP status.

All of them are the caller's failures (an unknown ticket, a decided draft, a route that does not
exist): the message says exactly what is wrong and, where there is one, what to do instead.
Anything else raised by an action (the database) is ours.
"""

from __future__ import annotations


class ActionError(Exception):
    """Base of the refusals below."""


class NotFoundError(ActionError):
    """The ticket or draft does not exist (API: 404)."""


class ConflictError(ActionError):
    """The ticket or draft is in a state that does not allow the action (API: 409)."""


class InvalidActionError(ActionError):
    """The request is well-formed but asks for something the policy does not allow (API: 422)."""
