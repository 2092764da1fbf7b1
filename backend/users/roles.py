"""Who may do what in the approval API: three roles, one table of permissions.

- ops: works the queue: reads it, approves / edits / rejects drafts, reassigns within a tier,
  escalates one tier at a time, resolves, reopens, relabels, waits on the customer.
- lead: everything ops may, plus the decisions that bend the policy's flow or undo one:
  an escalation that skips a tier (e.g. OPS straight to product engineering) and a
  de-escalation (moving a ticket back down, the undo of an escalation).
- admin: everything a lead may, plus user management (listing users through the API; adding
  and revoking them is the `tier0 users` command, run by someone with database access).

The check lives here, not in the API routes, so any entry point (API, CLI, a flow) that calls
`backend.api.actions` gets the same rules. A refusal is the caller's failure: `PermissionDenied`
(the API answers 403 with its message).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Role = Literal["ops", "lead", "admin"]
ROLES: tuple[Role, ...] = ("ops", "lead", "admin")


class Permission(StrEnum):
    READ_QUEUE = "read the queue"
    DECIDE_DRAFTS = "approve or reject drafts"
    REPLY = "reply to customers"
    REASSIGN = "reassign tickets"
    ESCALATE = "escalate tickets"
    ESCALATE_SKIPPING_TIERS = "escalate past the next tier"
    DEESCALATE = "de-escalate tickets"
    RESOLVE = "resolve tickets"
    REOPEN = "reopen tickets"
    RELABEL = "relabel tickets"
    WAIT_ON_CUSTOMER = "mark tickets as waiting on the customer"
    MANAGE_USERS = "manage users"


_OPS = frozenset(
    {
        Permission.READ_QUEUE,
        Permission.DECIDE_DRAFTS,
        Permission.REPLY,
        Permission.REASSIGN,
        Permission.ESCALATE,
        Permission.RESOLVE,
        Permission.REOPEN,
        Permission.RELABEL,
        Permission.WAIT_ON_CUSTOMER,
    }
)
_LEAD = _OPS | {Permission.ESCALATE_SKIPPING_TIERS, Permission.DEESCALATE}
_ADMIN = _LEAD | {Permission.MANAGE_USERS}

PERMISSIONS: dict[Role, frozenset[Permission]] = {"ops": _OPS, "lead": _LEAD, "admin": _ADMIN}


class PermissionDenied(Exception):
    """The user's role does not allow the action; the message names the role needed."""


def roles_with(permission: Permission) -> list[Role]:
    return [role for role in ROLES if permission in PERMISSIONS[role]]


def is_allowed(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def require(role: Role, permission: Permission) -> None:
    if not is_allowed(role, permission):
        needed = " or ".join(roles_with(permission))
        raise PermissionDenied(f"role {role} may not {permission.value}: needs {needed}")
