"""Gmail as a mail source: a first sync over a recent window, then incremental sync from Gmail's history.

`GmailSource` yields the same `SourceMessage` as the local sources (source_id = Gmail message id,
thread_hint = Gmail thread id, source_received_at = internalDate, raw = the RFC 5322 bytes of
`messages.get(format="raw")`). The mailbox's position is a Gmail history id kept in `mail_sync_state`:

- **First sync** (no stored history id): read the mailbox's current history id (`users.getProfile`)
  *before* listing, then list the messages received in the last `first_sync_window_days`
  (`messages.list` with `q="after:<epoch seconds>"`, which Gmail documents as exact, unlike dates
  that are read as midnight PST), at most `max_full_resync_messages` of them, and yield them oldest
  first. Mail that arrives while listing is newer than that history id, so the next incremental
  sync sees it (perhaps a second time, which storage de-duplicates).
- **Incremental sync**: `users.history.list(startHistoryId=..., historyTypes=["messageAdded"])`,
  page by page.
- **Expired history id**: Gmail answers 404 when the start id is too old ("typically valid for at
  least a week", Gmail API reference for history.list, which says to do a full sync then). That
  triggers ONE full resync per run, bounded by a window (from a day before the newest message we
  saw, never further back than `max_resync_window_days`) and by `max_full_resync_messages`. The run
  never goes back to history.list, so a 404 cannot loop.

Crash safety: the history id advances in two steps. `iter_messages()` only computes a *pending*
checkpoint once every message before it has been yielded and the caller has asked for the next
one; `commit_checkpoint()` writes it, and the pipeline calls that only after storing what it was
given (in the same transaction, if it likes: `SyncStateStore.save` never commits by itself). A
crash before the commit leaves the old history id, so the next run yields the same messages again,
and storage ignores them on (mailbox, source_id). A message is never skipped; at worst re-read.

Failures:
- Ours (raise `GmailSyncError`, so the Prefect task retries and alerts): every 4xx other than the
  ones below, 429 / 5xx / 403 rateLimitExceeded / userRateLimitExceeded once the bounded retries
  with exponential backoff are used up (Gmail API "Resolve errors" guide), likewise timeouts and
  dropped connections, a `raw` field that is not base64url.
- Not failures (counted in `SyncReport`, logged, and moved on): a message deleted between listing
  and fetching (404 on messages.get), drafts / spam / trash and messages outside the label.
Mail content is never parsed here, so the sender cannot make this module fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httplib2
from googleapiclient.errors import HttpError

from backend.mail.sources import SourceMessage
from backend.mail.sync_state import FullSyncReason, SyncState, SyncStateStore

logger = logging.getLogger(__name__)

# Gmail caps both list calls at 500 results a page (discovery document, maxResults).
_PAGE_SIZE = 500
# Labels whose messages are never customer mail to ingest: our own unsent drafts (reply drafts
# live in this mailbox too), and what Gmail filed as spam or a human threw away.
_EXCLUDED_LABEL_IDS = frozenset({"DRAFT", "SPAM", "TRASH"})
# 403s that mean "slow down", not "forbidden" (Gmail API guide "Resolve errors").
_RETRYABLE_403_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Network failures worth another attempt (the same set googleapiclient's own retry loop treats as transient).
_TRANSIENT_NETWORK_ERRORS = (TimeoutError, ConnectionError, ssl.SSLError, httplib2.ServerNotFoundError)
# A resync starts this long before the newest message we saw: `after:` is matched by Gmail, which
# may use a date other than internalDate, and a day of overlap costs only de-duplicated re-reads.
_RESYNC_OVERLAP = timedelta(days=1)


class GmailSyncError(Exception):
    """Our side: a Gmail call failed in a way a retry within this run will not fix."""

    def __init__(self, message: str, *, status: int | None = None, reasons: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.status = status
        self.reasons = reasons


class GmailNotFound(GmailSyncError):
    """HTTP 404: an expired history id on history.list, a deleted message on messages.get."""


class _HistoryExpired(Exception):
    """history.list answered 404: the stored history id is too old; a full resync is needed."""


@dataclass(frozen=True)
class RetryPolicy:
    """Truncated exponential backoff for quota and server errors: base * 2**(attempt - 1) seconds,
    capped, plus up to `jitter_seconds` of random spread so parallel workers do not retry in step.
    A `Retry-After` header, when Gmail sends one, is waited out if it asks for longer."""

    max_attempts: int = 6
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 64.0
    jitter_seconds: float = 1.0
    rng: Callable[[], float] = random.random

    def delay_seconds(self, attempt: int, retry_after_seconds: float | None = None) -> float:
        delay = min(self.base_delay_seconds * 2 ** (attempt - 1), self.max_delay_seconds)
        delay += self.jitter_seconds * self.rng()
        if retry_after_seconds is not None:
            delay = max(delay, min(retry_after_seconds, self.max_delay_seconds))
        return delay


@dataclass
class SyncReport:
    """What one `iter_messages()` run did, for logs and the flow's result."""

    mode: Literal["first_sync", "incremental", "full_resync"]
    messages_listed: int = 0  # ids seen in messages.list or history.list
    messages_yielded: int = 0
    messages_already_stored: int = 0  # not fetched: the mailbox already has them in `messages`
    messages_gone: int = 0  # deleted between listing and fetching
    messages_filtered: int = 0  # drafts, spam, trash, or outside the label
    is_truncated: bool = False  # a full sync stopped at max_full_resync_messages
    is_history_expired: bool = False  # history.list answered 404 and a full resync ran
    window_start_at: datetime | None = None  # full syncs: the earliest receive time asked for
    filtered_ids: list[str] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------------
# Calling the API: retries for quota and server errors, one domain error for the rest
# ------------------------------------------------------------------------------------------------


def _error_reasons(error: HttpError) -> frozenset[str]:
    """The `reason` strings of a Google JSON error body ({"error": {"errors": [{"reason": ...}]}},
    and the newer {"error": {"details": [{"reason": ...}]}})."""
    try:
        body = json.loads(error.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return frozenset()
    payload = body.get("error") if isinstance(body, dict) else None
    if not isinstance(payload, dict):
        return frozenset()
    reasons: set[str] = set()
    for key in ("errors", "details"):
        for item in payload.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                reasons.add(item["reason"])
    return frozenset(reasons)


def _is_retryable(status: int, reasons: frozenset[str]) -> bool:
    return status == 429 or status >= 500 or (status == 403 and bool(reasons & _RETRYABLE_403_REASONS))


def _retry_after_seconds(error: HttpError) -> float | None:
    value = error.resp.get("retry-after") if error.resp is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: rare for Google APIs; the backoff applies instead


class _Caller:
    """Executes googleapiclient requests with our retry policy (the library's own retries are off,
    so the sleep can be injected and the attempts bounded)."""

    def __init__(self, retry: RetryPolicy, sleep: Callable[[float], None]) -> None:
        if retry.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        self.retry = retry
        self.sleep = sleep

    def __call__(self, request: Any) -> Any:
        method = getattr(request, "methodId", None) or "gmail request"
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return request.execute(num_retries=0)
            except HttpError as error:
                status = int(error.resp.status)
                reasons = _error_reasons(error)
                described = f"{method}: HTTP {status}" + (f" ({', '.join(sorted(reasons))})" if reasons else "")
                if not _is_retryable(status, reasons):
                    kind = GmailNotFound if status == 404 else GmailSyncError
                    raise kind(f"{described}: {error.reason}", status=status, reasons=reasons) from error
                if attempt == self.retry.max_attempts:
                    raise GmailSyncError(
                        f"{described}: still failing after {attempt} attempts", status=status, reasons=reasons
                    ) from error
                delay = self.retry.delay_seconds(attempt, _retry_after_seconds(error))
            except _TRANSIENT_NETWORK_ERRORS as error:
                described = f"{method}: {type(error).__name__}"
                if attempt == self.retry.max_attempts:
                    raise GmailSyncError(f"{described}: still failing after {attempt} attempts") from error
                delay = self.retry.delay_seconds(attempt)
            logger.warning("%s; retry %d of %d in %.1f s", described, attempt, self.retry.max_attempts - 1, delay)
            self.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")


# ------------------------------------------------------------------------------------------------
# Small conversions
# ------------------------------------------------------------------------------------------------


def decode_raw(value: str) -> bytes:
    """Gmail's `raw` field: the RFC 5322 message in base64url (RFC 4648 §5), padding optional."""
    try:
        # validate=True: the lenient decoder would silently drop characters outside the alphabet.
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise GmailSyncError(f"messages.get returned a raw field that is not base64url: {error}") from error


def received_at_from_internal_date(value: str | int) -> datetime:
    """internalDate is epoch milliseconds as a string (format int64 in the discovery document)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(value))


def _epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _newest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def newest_message_received_at(
    service: Any,
    *,
    user_id: str = "me",
    label_id: str | None = "INBOX",
    query: str | None = None,
    received_before: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry: RetryPolicy = RetryPolicy(),
) -> datetime | None:
    """The internalDate of the newest message in the mailbox (within the label and query), or None.

    `received_before` limits it to mail older than that moment: pass `now - max_lag` to the
    freshness check, so it asks "is there mail that has waited longer than max_lag that we do not
    have?" rather than alarming on a message that arrived a second ago. messages.list returns the
    newest first (internalDate orders the mailbox); its entries carry only ids, so one
    messages.get(format="minimal") reads the date.
    """
    call = _Caller(retry, sleep)
    terms = [query] if query else []
    if received_before is not None:
        terms.append(f"before:{_epoch_seconds(received_before)}")
    arguments: dict[str, Any] = {"userId": user_id, "maxResults": 1}
    if terms:
        arguments["q"] = " ".join(terms)
    if label_id:
        arguments["labelIds"] = [label_id]
    for _ in range(3):  # the newest message may be deleted between the two calls: ask again
        listed = call(service.users().messages().list(**arguments))
        messages = listed.get("messages") or []
        if not messages:
            return None
        try:
            message = call(service.users().messages().get(userId=user_id, id=messages[0]["id"], format="minimal"))
        except GmailNotFound:
            continue
        return received_at_from_internal_date(message["internalDate"])
    raise GmailSyncError("messages.list kept naming a newest message that messages.get could not find")


# ------------------------------------------------------------------------------------------------
# The source
# ------------------------------------------------------------------------------------------------


class GmailSource:
    """A Gmail mailbox as a `MailSource`, with a stored checkpoint (see the module docstring).

    Usage by the pipeline::

        source = GmailSource(service, state=SyncStateStore(conn, mailbox), processed_label="tier0")
        for message in source.iter_messages():
            store(message)                     # idempotent on (mailbox, source_id)
            source.commit_checkpoint()         # optional mid-run; only pages fully stored count
        source.commit_checkpoint()             # after the last store
        source.mark_processed(stored_ids)      # optional Gmail label on what was handled

    `label_id` limits the sync to one Gmail label ("INBOX" by default: what customers sent, not our
    own sent mail); None reads everything but drafts, spam and trash. `query` (Gmail search syntax)
    narrows full syncs and the freshness probe only: history.list has no query parameter.
    """

    name = "gmail"

    def __init__(
        self,
        service: Any,
        *,
        user_id: str = "me",
        state: SyncStateStore,
        first_sync_window_days: int = 7,
        query: str | None = None,
        processed_label: str | None = None,
        max_full_resync_messages: int = 5000,
        sleep: Callable[[float], None] = time.sleep,
        label_id: str | None = "INBOX",
        max_resync_window_days: int = 30,
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if first_sync_window_days < 1 or max_resync_window_days < 1:
            raise ValueError("sync windows must be at least one day")
        if max_full_resync_messages < 1:
            raise ValueError("max_full_resync_messages must be at least 1")
        self.service = service
        self.user_id = user_id
        self.state_store = state
        self.first_sync_window = timedelta(days=first_sync_window_days)
        self.max_resync_window = timedelta(days=max(max_resync_window_days, first_sync_window_days))
        self.query = query
        self.processed_label = processed_label
        self.max_full_resync_messages = max_full_resync_messages
        self.label_id = label_id
        self.clock = clock
        self._call = _Caller(retry, sleep)
        self._retry = retry
        self._sleep = sleep
        self._pending: SyncState | None = None
        self._processed_label_id: str | None = None
        self.last_report: SyncReport | None = None

    @property
    def mailbox(self) -> str:
        return self.state_store.mailbox

    @property
    def pending_checkpoint(self) -> SyncState | None:
        """The state `commit_checkpoint()` would save now (None: nothing new is safe to save)."""
        return self._pending

    # -- syncing ---------------------------------------------------------------------------------

    def iter_messages(self) -> Iterator[SourceMessage]:
        """New messages since the stored checkpoint (a first sync when there is none)."""
        state = self.state_store.load()
        self._pending = None
        if state.history_id is None:
            self.last_report = SyncReport(mode="first_sync")
            yield from self._full_sync(state, "first_sync", self.last_report)
            return
        self.last_report = SyncReport(mode="incremental")
        try:
            yield from self._incremental_sync(state, self.last_report)
        except _HistoryExpired:
            logger.warning(
                "Gmail history id %s of mailbox %s has expired (history.list 404): one bounded full resync",
                state.history_id,
                self.mailbox,
            )
            self.last_report.mode = "full_resync"
            self.last_report.is_history_expired = True
            yield from self._full_sync(self._pending or state, "history_expired", self.last_report)

    def commit_checkpoint(self) -> SyncState | None:
        """Save the pending checkpoint (call only once everything yielded so far is stored).
        Returns what was saved, or None when nothing new was safe to save."""
        pending = self._pending
        if pending is None:
            return None
        self.state_store.save(pending)
        self._pending = None
        return pending

    def _incremental_sync(self, state: SyncState, report: SyncReport) -> Iterator[SourceMessage]:
        assert state.history_id is not None
        current = state
        seen: set[str] = set()
        page_token: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "userId": self.user_id,
                "startHistoryId": str(state.history_id),
                "historyTypes": ["messageAdded"],
                "maxResults": _PAGE_SIZE,
            }
            if self.label_id:
                arguments["labelId"] = self.label_id
            if page_token:
                arguments["pageToken"] = page_token
            try:
                page = self._call(self.service.users().history().list(**arguments))
            except GmailNotFound as error:
                raise _HistoryExpired(str(error)) from error

            wanted: list[str] = []
            newest_record: int | None = None
            for record in page.get("history") or []:
                newest_record = max(newest_record or 0, int(record["id"]))
                for added in record.get("messagesAdded") or []:
                    message = added["message"]
                    message_id = message["id"]
                    if message_id in seen:
                        continue
                    seen.add(message_id)
                    report.messages_listed += 1
                    labels = message.get("labelIds")
                    if labels is not None and not self._is_wanted(labels, require_label=True):
                        self._count_filtered(report, message_id)
                        continue
                    wanted.append(message_id)

            newest_received: list[datetime | None] = [current.last_message_received_at]
            for source_message in self._fetch(wanted, report):
                newest_received.append(source_message.source_received_at)
                yield source_message
            # Every message of this page has been yielded and the caller asked for more, so the
            # checkpoint may move past the page: to its last record while pages remain, and to the
            # mailbox's current history id after the last page (history.list reference).
            page_token = page.get("nextPageToken")
            if page_token:
                history_id = newest_record if newest_record is not None else current.history_id
                current = replace(current, history_id=history_id, last_message_received_at=_newest(*newest_received))
                self._pending = current
                continue
            final_id = int(page.get("historyId") or newest_record or current.history_id or 0)
            current = replace(
                current,
                history_id=max(final_id, current.history_id or 0),
                last_synced_at=self.clock(),
                last_message_received_at=_newest(*newest_received),
            )
            self._pending = current
            return

    def _full_sync(self, state: SyncState, reason: FullSyncReason, report: SyncReport) -> Iterator[SourceMessage]:
        now = self.clock()
        # The history id comes first: whatever arrives while we list is after it, so the next
        # incremental sync sees it.
        profile = self._call(self.service.users().getProfile(userId=self.user_id))
        history_id = int(profile["historyId"])
        window_start = self._window_start(state, reason, now)
        report.window_start_at = window_start

        message_ids = self._list_window(window_start, report)
        message_ids.reverse()  # messages.list is newest first; threads read better oldest first
        newest_received: list[datetime | None] = [state.last_message_received_at]
        for source_message in self._fetch(message_ids, report):
            newest_received.append(source_message.source_received_at)
            yield source_message
        self._pending = replace(
            state,
            history_id=history_id,
            last_full_sync_at=now,
            last_full_sync_reason=reason,
            full_sync_window_start_at=window_start,
            last_synced_at=self.clock(),
            last_message_received_at=_newest(*newest_received),
        )

    def _window_start(self, state: SyncState, reason: FullSyncReason, now: datetime) -> datetime:
        first_sync_start = now - self.first_sync_window
        if reason == "first_sync" or state.last_message_received_at is None:
            return first_sync_start
        floor = now - self.max_resync_window
        wanted = min(state.last_message_received_at - _RESYNC_OVERLAP, first_sync_start)
        if wanted < floor:
            logger.error(
                "mailbox %s: the resync reaches back only to %s; mail received between %s and then is not "
                "recovered (raise max_resync_window_days to recover more)",
                self.mailbox,
                floor.isoformat(),
                state.last_message_received_at.isoformat(),
            )
            return floor
        return wanted

    def _list_window(self, window_start: datetime, report: SyncReport) -> list[str]:
        terms = [self.query] if self.query else []
        terms.append(f"after:{_epoch_seconds(window_start)}")
        message_ids: list[str] = []
        page_token: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "userId": self.user_id,
                "q": " ".join(terms),
                "maxResults": min(_PAGE_SIZE, self.max_full_resync_messages - len(message_ids)),
            }
            if self.label_id:
                arguments["labelIds"] = [self.label_id]
            if page_token:
                arguments["pageToken"] = page_token
            page = self._call(self.service.users().messages().list(**arguments))
            entries = page.get("messages") or []
            room = self.max_full_resync_messages - len(message_ids)
            message_ids.extend(entry["id"] for entry in entries[:room])
            page_token = page.get("nextPageToken")
            if len(entries) > room or (page_token and len(message_ids) >= self.max_full_resync_messages):
                report.is_truncated = True
                logger.warning(
                    "mailbox %s: full sync stopped at %d messages (max_full_resync_messages); older mail in the "
                    "window is not read",
                    self.mailbox,
                    self.max_full_resync_messages,
                )
                break
            if not page_token:
                break
        report.messages_listed += len(message_ids)
        return message_ids

    def _fetch(self, message_ids: list[str], report: SyncReport) -> Iterator[SourceMessage]:
        already_stored = self.state_store.stored_source_ids(message_ids)
        report.messages_already_stored += len(already_stored)
        for message_id in message_ids:
            if message_id in already_stored:
                continue
            try:
                message = self._call(
                    self.service.users().messages().get(userId=self.user_id, id=message_id, format="raw")
                )
            except GmailNotFound:
                logger.info("Gmail message %s was deleted before it could be read; skipped", message_id)
                report.messages_gone += 1
                continue
            if not self._is_wanted(message.get("labelIds") or [], require_label=False):
                self._count_filtered(report, message_id)
                continue
            if "raw" not in message:
                raise GmailSyncError(f"messages.get(format='raw') for {message_id} returned no raw field")
            internal_date = message.get("internalDate")
            report.messages_yielded += 1
            yield SourceMessage(
                source_id=message["id"],
                raw=decode_raw(message["raw"]),
                thread_hint=message.get("threadId"),
                label=f"gmail:{message['id']}",
                source_received_at=received_at_from_internal_date(internal_date) if internal_date else None,
            )

    def _is_wanted(self, label_ids: Iterable[str], *, require_label: bool) -> bool:
        labels = set(label_ids)
        if labels & _EXCLUDED_LABEL_IDS:
            return False
        # The label is checked only on history records (labels when the message arrived), never on
        # the fetched message: a human may archive a message before we read it, and it still counts.
        return not (require_label and self.label_id and self.label_id not in labels)

    @staticmethod
    def _count_filtered(report: SyncReport, message_id: str) -> None:
        report.messages_filtered += 1
        report.filtered_ids.append(message_id)
        logger.debug("Gmail message %s skipped: draft, spam, trash or outside the label", message_id)

    # -- after storing ---------------------------------------------------------------------------

    def mark_processed(self, source_ids: Iterable[str]) -> int:
        """Add the processed label to these messages (messages.modify, one call each, so a message
        deleted meanwhile is skipped rather than failing the rest). Returns how many were labelled;
        0 when no processed_label was configured."""
        if not self.processed_label:
            return 0
        message_ids = list(dict.fromkeys(source_ids))
        if not message_ids:
            return 0
        label_id = self._ensure_processed_label()
        labelled = 0
        for message_id in message_ids:
            try:
                self._call(
                    self.service.users()
                    .messages()
                    .modify(userId=self.user_id, id=message_id, body={"addLabelIds": [label_id]})
                )
            except GmailNotFound:
                logger.info("Gmail message %s was deleted before it could be labelled", message_id)
                continue
            labelled += 1
        return labelled

    def _ensure_processed_label(self) -> str:
        if self._processed_label_id:
            return self._processed_label_id
        assert self.processed_label is not None
        label_id = self._find_label(self.processed_label)
        if label_id is None:
            body = {"name": self.processed_label, "labelListVisibility": "labelShow", "messageListVisibility": "show"}
            try:
                created = self._call(self.service.users().labels().create(userId=self.user_id, body=body))
                label_id = str(created["id"])
            except GmailSyncError as error:
                if error.status != 409:  # 409: created meanwhile by another worker; read it back
                    raise
                label_id = self._find_label(self.processed_label)
                if label_id is None:
                    raise
        self._processed_label_id = label_id
        return label_id

    def _find_label(self, name: str) -> str | None:
        listed = self._call(self.service.users().labels().list(userId=self.user_id))
        for label in listed.get("labels") or []:
            # Gmail label names are unique regardless of case.
            if label.get("id") == name or str(label.get("name", "")).casefold() == name.casefold():
                return str(label["id"])
        return None

    # -- freshness -------------------------------------------------------------------------------

    def newest_mailbox_message_at(self, *, received_before: datetime | None = None) -> datetime | None:
        """The newest message this source is meant to read (same label and query), see
        `newest_message_received_at`."""
        return newest_message_received_at(
            self.service,
            user_id=self.user_id,
            label_id=self.label_id,
            query=self.query,
            received_before=received_before,
            sleep=self._sleep,
            retry=self._retry,
        )
