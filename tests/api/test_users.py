"""Users and tokens (backend/users/store.py) and the role table (backend/users/roles.py)."""

from __future__ import annotations

import hashlib

import psycopg
import pytest

from backend.users.roles import PERMISSIONS, Permission, PermissionDenied, is_allowed, require, roles_with
from backend.users.store import (
    TOKEN_PREFIX,
    UnknownUserError,
    UserExistsError,
    add_user,
    authenticate,
    issue_token,
    list_users,
    revoke_token,
    revoke_user,
)


def test_a_token_is_shown_once_and_only_its_hash_is_stored(db: psycopg.Connection) -> None:
    issued = add_user(db, "alice", "ops")
    assert issued.token.startswith(TOKEN_PREFIX)
    assert len(issued.token) >= len(TOKEN_PREFIX) + 43  # 32 random bytes, base64url
    assert issued.user.actor == "user:alice"
    stored = db.execute("select token_sha256, token_hint from api_tokens").fetchall()
    assert stored == [(hashlib.sha256(issued.token.encode()).hexdigest(), issued.token[:12])]
    dump = db.execute("select string_agg(t::text, '|') from api_tokens t").fetchone()[0]  # type: ignore[index]
    assert issued.token not in dump
    assert authenticate(db, issued.token) == issued.user


def test_tokens_differ_every_time(db: psycopg.Connection) -> None:
    tokens = {add_user(db, "alice", "ops").token, issue_token(db, "alice").token, issue_token(db, "alice").token}
    assert len(tokens) == 3


def test_names_and_roles_are_checked(db: psycopg.Connection) -> None:
    add_user(db, "alice", "ops")
    with pytest.raises(UserExistsError, match="user 'alice' already exists"):
        add_user(db, "alice", "lead")
    with pytest.raises(ValueError, match="invalid role 'boss': one of ops, lead, admin"):
        add_user(db, "bob", "boss")
    for bad in ("Bob", "1bob", "bob smith", "", "b" * 64):
        with pytest.raises(ValueError, match="invalid user name"):
            add_user(db, bad, "ops")


def test_revoking(db: psycopg.Connection) -> None:
    first = add_user(db, "alice", "ops")
    second = issue_token(db, "alice")
    assert revoke_token(db, first.token_hint) == 1
    assert authenticate(db, first.token) is None
    assert authenticate(db, second.token) is not None
    with pytest.raises(UnknownUserError, match="no active token with hint"):
        revoke_token(db, first.token_hint)
    assert revoke_user(db, "alice") == 1
    assert authenticate(db, second.token) is None
    with pytest.raises(UnknownUserError, match="no active user 'alice'"):
        issue_token(db, "alice")
    with pytest.raises(UserExistsError):
        add_user(db, "alice", "ops")  # names are never reused: old events still name her


def test_list_users(db: psycopg.Connection) -> None:
    alice = add_user(db, "alice", "ops")
    add_user(db, "ada", "admin")
    revoke_user(db, "ada")
    listed = {user.name: user for user in list_users(db)}
    assert [name for name in listed] == ["ada", "alice"]
    assert (listed["alice"].role, listed["alice"].active_tokens, listed["alice"].token_hints) == (
        "ops",
        1,
        (alice.token_hint,),
    )
    assert listed["ada"].revoked_at is not None and listed["ada"].active_tokens == 0


def test_roles_nest() -> None:
    assert PERMISSIONS["ops"] < PERMISSIONS["lead"] < PERMISSIONS["admin"]
    assert roles_with(Permission.DEESCALATE) == ["lead", "admin"]
    assert roles_with(Permission.MANAGE_USERS) == ["admin"]
    assert is_allowed("ops", Permission.DECIDE_DRAFTS)
    require("admin", Permission.MANAGE_USERS)
    with pytest.raises(PermissionDenied, match="role lead may not manage users: needs admin"):
        require("lead", Permission.MANAGE_USERS)
