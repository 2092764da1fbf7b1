"""API users and their bearer tokens (tables api_users, api_tokens; sql/migrations/006_api.sql).

A token is `tier0_` + 32 random bytes (urlsafe base64, `secrets.token_urlsafe`), returned once
by `add_user` / `issue_token` and never stored: the database keeps its SHA-256 only. With 256
random bits there is nothing to guess, so a plain fast hash is the right tool (a slow password
hash would only add latency to every API request). A leaked database therefore leaks no usable
token. Tokens and users are revoked, never deleted: `ticket_events.actor = 'user:<name>'` keeps
naming a known user forever.

Failures are the caller's: an invalid name or role (`ValueError`), an existing name
(`UserExistsError`), an unknown or revoked user (`UnknownUserError`). Database errors are ours.
`authenticate` never raises for a bad token: it answers None.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import psycopg

from backend.users.roles import ROLES, Role

TOKEN_PREFIX = "tier0_"
_TOKEN_BYTES = 32
_HINT_LENGTH = len(TOKEN_PREFIX) + 6
_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,62}$")


class UserExistsError(Exception):
    """A user of that name exists (active or revoked: names are never reused)."""


class UnknownUserError(Exception):
    """No active user of that name."""


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How ticket_events name this user."""
        return f"user:{self.name}"


@dataclass(frozen=True)
class IssuedToken:
    user: User
    token: str  # shown once; only its hash is stored
    token_hint: str


@dataclass(frozen=True)
class UserSummary:
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    active_tokens: int
    token_hints: tuple[str, ...]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(
            f"invalid user name {name!r}: lowercase letters, digits, '.', '_' or '-', starting with a letter, "
            "at most 63 characters"
        )


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise ValueError(f"invalid role {role!r}: one of {', '.join(ROLES)}")
    return cast(Role, role)


def _new_token(conn: psycopg.Connection, user: User) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    hint = token[:_HINT_LENGTH]
    conn.execute(
        "insert into api_tokens (user_id, token_sha256, token_hint) values (%s, %s, %s)",
        (user.user_id, hash_token(token), hint),
    )
    return IssuedToken(user, token, hint)


def add_user(conn: psycopg.Connection, name: str, role: str) -> IssuedToken:
    """Create a user with `role` and issue its first token (print it once; it cannot be shown again)."""
    _check_name(name)
    checked_role = _check_role(role)
    with conn.transaction():
        row = conn.execute(
            "insert into api_users (name, role) values (%s, %s) on conflict (name) do nothing returning user_id",
            (name, checked_role),
        ).fetchone()
        if row is None:
            raise UserExistsError(f"user {name!r} already exists (names are never reused, even when revoked)")
        return _new_token(conn, User(int(row[0]), name, checked_role))


def _active_user(conn: psycopg.Connection, name: str) -> User:
    row = conn.execute(
        "select user_id, name, role from api_users where name = %s and revoked_at is null for update", (name,)
    ).fetchone()
    if row is None:
        raise UnknownUserError(f"no active user {name!r}")
    return User(int(row[0]), row[1], row[2])


def issue_token(conn: psycopg.Connection, name: str) -> IssuedToken:
    """Another token for an active user (e.g. to rotate: issue, switch, then revoke the old one)."""
    with conn.transaction():
        return _new_token(conn, _active_user(conn, name))


def revoke_user(conn: psycopg.Connection, name: str) -> int:
    """Revoke a user and all their tokens at once; returns how many tokens were revoked."""
    with conn.transaction():
        user = _active_user(conn, name)
        conn.execute("update api_users set revoked_at = now() where user_id = %s", (user.user_id,))
        cursor = conn.execute(
            "update api_tokens set revoked_at = now() where user_id = %s and revoked_at is null", (user.user_id,)
        )
        return cursor.rowcount


def revoke_token(conn: psycopg.Connection, token_hint: str) -> int:
    """Revoke the active token(s) whose hint (as `list_users` shows it) is `token_hint`."""
    with conn.transaction():
        cursor = conn.execute(
            "update api_tokens set revoked_at = now() where token_hint = %s and revoked_at is null", (token_hint,)
        )
        if cursor.rowcount == 0:
            raise UnknownUserError(f"no active token with hint {token_hint!r}")
        return cursor.rowcount


def list_users(conn: psycopg.Connection) -> list[UserSummary]:
    rows = conn.execute(
        """
        select u.name, u.role, u.created_at, u.revoked_at,
               count(t.token_id) filter (where t.revoked_at is null),
               coalesce(array_agg(t.token_hint order by t.token_id) filter (where t.revoked_at is null), '{}')
        from api_users u left join api_tokens t on t.user_id = u.user_id
        group by u.user_id
        order by u.name
        """
    ).fetchall()
    return [
        UserSummary(name, role, created, revoked, int(count), tuple(hints))
        for name, role, created, revoked, count, hints in rows
    ]


def authenticate(conn: psycopg.Connection, token: str) -> User | None:
    """The active user a bearer token belongs to, or None (unknown, revoked, or the user revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        """
        select u.user_id, u.name, u.role
        from api_tokens t join api_users u on u.user_id = t.user_id
        where t.token_sha256 = %s and t.revoked_at is null and u.revoked_at is null
        """,
        (hash_token(token),),
    ).fetchone()
    return User(int(row[0]), row[1], row[2]) if row else None
