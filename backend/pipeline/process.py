"""Stage 2: every stored email becomes exactly one recorded outcome.

For each unprocessed message, in the order the emails were sent: parse the MIME, extract the new
text of a reply, recognise automated mail, find the sender's account, find the conversation it
continues, split it into requests and classify them, apply the policy, and write the tickets with
their events and outbox rows, all in one transaction with the message's outcome.

Outcomes (messages.outcome): tickets_created, followup_attached, automated, not_actionable, failed.
Mail from our own address is not_actionable; when it is a person's reply to a customer, sent from
the mailbox itself, it also records the first response of the conversation's tickets
(staff_replies.py).

Two kinds of failure:
- the sender's (an unparseable mail): recorded as outcome `failed` with the reason; never retried;
- ours (a bug, the database): the message's transaction is rolled back, the message is recorded as
  `failed` with the error in a fresh transaction so nothing is silently dropped, and the run reports
  `internal_errors` so the caller (CLI, Prefect flow) exits non-zero and alerts. Such messages can be
  re-run with `reprocess_failed` once the cause is fixed.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from backend.accounts.resolve import AccountFacts, Sender, resolve_sender
from backend.mail.automated import detect_automated
from backend.mail.message import ParsedEmail, UnparseableEmail
from backend.mail.mime import parse_email
from backend.mail.reply import split_reply, text_for_triage
from backend.mail.threading import ThreadMatch, find_conversation, normalise_subject
from backend.pipeline.classifiers import LlmCallCollector
from backend.pipeline.staff_replies import record_staff_reply
from backend.pipeline.tickets import create_tickets, record_followup
from backend.policy.model import Policy
from backend.triage.llm_calls import record_llm_call
from backend.triage.types import Classifier, EmailForTriage, EmailTriage, ExistingRequest

logger = logging.getLogger(__name__)

# A Date header further in the future than this, or absurdly old, is not trusted for the funnel.
_FUTURE_TOLERANCE = timedelta(days=1)
_OLDEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PipelineConfig:
    policy: Policy
    classifier: Classifier
    own_addresses: frozenset[str] = frozenset()  # our support mailbox(es): our own mail never becomes a request
    llm_calls: LlmCallCollector | None = None  # the classifier's recorder, when it calls an LLM


@dataclass
class ProcessReport:
    processed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    tickets_created: int = 0
    internal_errors: int = 0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


@dataclass(frozen=True)
class MessageResult:
    message_pk: int
    outcome: str
    kind: str | None
    ticket_ids: tuple[int, ...] = ()
    reason: str | None = None


def _sent_at(parsed: ParsedEmail | None, ingested_at: datetime) -> datetime:
    if parsed is None or parsed.date is None:
        return ingested_at
    date = parsed.date
    if date > ingested_at + _FUTURE_TOLERANCE or date < _OLDEST_PLAUSIBLE:
        return ingested_at
    return date


def _header_date(raw: bytes) -> datetime | None:
    """Only the Date header, cheaply, to order a batch by sending time."""
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        value = headers.get("Date")
        if not value:
            return None
        parsed = email.utils.parsedate_to_datetime(str(value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        return None


def pending_message_pks(conn: psycopg.Connection, *, mailbox: str | None = None) -> list[int]:
    """Unprocessed messages in the order they were sent (replies after what they answer)."""
    rows = conn.execute(
        """select message_pk, raw, ingested_at from messages
           where processed_at is null and (%(mailbox)s::text is null or mailbox = %(mailbox)s)
           order by message_pk""",
        {"mailbox": mailbox},
    ).fetchall()
    keyed = []
    for message_pk, raw, ingested_at in rows:
        sent = _header_date(bytes(raw)) or ingested_at
        if sent > ingested_at + _FUTURE_TOLERANCE or sent < _OLDEST_PLAUSIBLE:
            sent = ingested_at
        keyed.append((sent, message_pk))
    keyed.sort()
    return [message_pk for _, message_pk in keyed]


def _record_outcome(
    conn: psycopg.Connection,
    message_pk: int,
    *,
    outcome: str,
    kind: str | None,
    reason: str | None = None,
    followup_of: str | None = None,
) -> None:
    conn.execute(
        """update messages set outcome = %s, kind = %s, outcome_reason = %s, followup_of = %s, processed_at = now()
           where message_pk = %s""",
        (outcome, kind, reason, followup_of, message_pk),
    )


def _store_parsed(
    conn: psycopg.Connection,
    message_pk: int,
    parsed: ParsedEmail,
    *,
    sent_at: datetime,
    sender: Sender | None,
    reply_text: str,
    signature: str,
    quoted_text: str,
    language: str | None,
) -> None:
    conn.execute(
        """
        update messages set
            message_id = %s, in_reply_to = %s, references_ids = %s, subject = %s, from_address = %s,
            from_name = %s, sent_at = %s, contact_id = %s, account_id = %s, body_text = %s, reply_text = %s,
            signature = %s, quoted_text = %s, language = %s, attachments = %s, parse_defects = %s
        where message_pk = %s
        """,
        (
            parsed.message_id,
            parsed.in_reply_to,
            parsed.references,
            parsed.subject,
            parsed.from_address,
            parsed.from_name,
            sent_at,
            sender.contact_id if sender else None,
            sender.account.account_id if sender and sender.account else None,
            parsed.body_text,
            reply_text,
            signature,
            quoted_text,
            language,
            Jsonb(
                [
                    {"filename": a.filename, "content_type": a.content_type, "size": a.size, "inline": a.inline}
                    for a in parsed.attachments
                ]
            ),
            Jsonb(parsed.defects),
            message_pk,
        ),
    )


def _is_own_mail(conn: psycopg.Connection, config: PipelineConfig, parsed: ParsedEmail) -> bool:
    if parsed.from_address and parsed.from_address.lower() in config.own_addresses:
        return True
    if parsed.message_id:
        row = conn.execute(
            "select 1 from conversation_message_ids where message_id = %s and is_ours", (parsed.message_id,)
        ).fetchone()
        return row is not None
    return False


def _sent_by_tier0(conn: psycopg.Connection, parsed: ParsedEmail) -> bool:
    """A reply the send outbox delivered (its Message-ID is registered as ours): already recorded."""
    if not parsed.message_id:
        return False
    row = conn.execute(
        "select 1 from conversation_message_ids where message_id = %s and is_ours", (parsed.message_id,)
    ).fetchone()
    return row is not None


def _existing_requests(conn: psycopg.Connection, conversation_id: int) -> tuple[ExistingRequest, ...]:
    rows = conn.execute(
        "select category, product_area, summary from tickets where conversation_id = %s order by ticket_id",
        (conversation_id,),
    ).fetchall()
    return tuple(ExistingRequest(category, area, summary) for category, area, summary in rows)


def _register_ids(conn: psycopg.Connection, conversation_id: int, parsed: ParsedEmail) -> None:
    # The message's own id, plus the ids it refers to (our replies, which the inbox never holds):
    # a later reply that only names our reply in In-Reply-To still finds the conversation.
    ids = [parsed.message_id] if parsed.message_id else []
    ids += parsed.in_reply_to + parsed.references
    for message_id in ids:
        conn.execute(
            """insert into conversation_message_ids (message_id, conversation_id) values (%s, %s)
               on conflict (message_id) do nothing""",
            (message_id, conversation_id),
        )


def _new_conversation(
    conn: psycopg.Connection,
    parsed: ParsedEmail,
    account: AccountFacts | None,
    sent_at: datetime,
    thread_hint: str | None,
) -> int:
    row = conn.execute(
        """insert into conversations (account_id, subject, subject_key, root_message_id, gmail_thread_id,
                                      created_at, last_message_at)
           values (%s, %s, %s, %s, %s, %s, %s) returning conversation_id""",
        (
            account.account_id if account else None,
            parsed.subject,
            normalise_subject(parsed.subject),
            parsed.message_id,
            thread_hint,
            sent_at,
            sent_at,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _join_conversation(conn: psycopg.Connection, message_pk: int, conversation_id: int, sent_at: datetime) -> None:
    conn.execute("update messages set conversation_id = %s where message_pk = %s", (conversation_id, message_pk))
    conn.execute(
        "update conversations set last_message_at = greatest(last_message_at, %s) where conversation_id = %s",
        (sent_at, conversation_id),
    )


def _triage(
    config: PipelineConfig,
    parsed: ParsedEmail,
    text: str,
    sender: Sender,
    match: ThreadMatch | None,
    conn: psycopg.Connection,
) -> EmailTriage:
    email_for_triage = EmailForTriage(
        subject=parsed.subject,
        text=text,
        sender_address=parsed.from_address,
        is_reply=match is not None,
        existing_requests=_existing_requests(conn, match.conversation_id) if match else (),
        account_integration=sender.account.integration if sender.account else None,
    )
    return config.classifier.triage(email_for_triage)


def _process(conn: psycopg.Connection, config: PipelineConfig, message_pk: int) -> MessageResult:
    row = conn.execute(
        "select raw, ingested_at, thread_hint from messages where message_pk = %s and processed_at is null for update",
        (message_pk,),
    ).fetchone()
    if row is None:  # processed meanwhile by another worker
        return MessageResult(message_pk, "skipped", None)
    raw, ingested_at, thread_hint = bytes(row[0]), row[1], row[2]

    try:
        parsed = parse_email(raw)
    except UnparseableEmail as error:
        _record_outcome(conn, message_pk, outcome="failed", kind=None, reason=f"unparseable: {error.reason}")
        return MessageResult(message_pk, "failed", None, reason=error.reason)

    sent_at = _sent_at(parsed, ingested_at)
    parts = split_reply(parsed.body_text, html=parsed.body_html, sender=parsed.header("From") or parsed.from_address)
    language = _language(parts.reply_text or parsed.body_text)

    if _is_own_mail(conn, config, parsed):
        _store_parsed(
            conn,
            message_pk,
            parsed,
            sent_at=sent_at,
            sender=None,
            reply_text=parts.reply_text,
            signature=parts.signature,
            quoted_text=parts.quoted_text,
            language=language,
        )
        reason = "our own outbound message"
        if not _sent_by_tier0(conn, parsed):
            answered = record_staff_reply(conn, parsed, message_pk=message_pk, sent_at=sent_at, thread_hint=thread_hint)
            if answered:
                reason += f": a reply by our staff, the first response of {len(answered)} ticket(s)"
        _record_outcome(conn, message_pk, outcome="not_actionable", kind=None, reason=reason)
        return MessageResult(message_pk, "not_actionable", None, reason=reason)

    sender = resolve_sender(conn, parsed.from_address, parsed.from_name)
    _store_parsed(
        conn,
        message_pk,
        parsed,
        sent_at=sent_at,
        sender=sender,
        reply_text=parts.reply_text,
        signature=parts.signature,
        quoted_text=parts.quoted_text,
        language=language,
    )

    verdict = detect_automated(parsed, parts.reply_text)
    if verdict is not None:
        _record_outcome(conn, message_pk, outcome="automated", kind=verdict.kind, reason=verdict.reason)
        return MessageResult(message_pk, "automated", verdict.kind, reason=verdict.reason)

    lookup = find_conversation(
        conn,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        thread_hint=thread_hint,
        subject=parsed.subject,
        sender=sender,
        from_address=parsed.from_address,
        sent_at=sent_at,
        subject_fallback_days=config.policy.threading.subject_fallback_days,
    )
    match = lookup.match
    text = text_for_triage(parts)
    triage = _triage(config, parsed, text, sender, match, conn)

    if match is not None:
        _join_conversation(conn, message_pk, match.conversation_id, sent_at)
        _register_ids(conn, match.conversation_id, parsed)
        if triage.requests:
            kind = "followup_new"
        elif triage.gratitude_only:
            kind = "thanks"
        else:
            kind = "followup"
        reopened_or_new = record_followup(
            conn,
            config.policy,
            conversation_id=match.conversation_id,
            message_pk=message_pk,
            sent_at=sent_at,
            kind=kind,
            account=sender.account,
        )
        ticket_ids = list(reopened_or_new)
        if triage.requests:
            ticket_ids += create_tickets(
                conn,
                config.policy,
                triage,
                conversation_id=match.conversation_id,
                message_pk=message_pk,
                sent_at=sent_at,
                sender=sender,
                first_index=0,
            )
        followup_of = match.root_message_id if kind in ("followup", "followup_new") else None
        outcome = (
            "tickets_created"
            if ticket_ids and kind == "followup_new"
            else ("not_actionable" if kind == "thanks" else "followup_attached")
        )
        if reopened_or_new and kind == "followup":
            outcome = "tickets_created"
        _record_outcome(conn, message_pk, outcome=outcome, kind=kind, followup_of=followup_of, reason=lookup.refused)
        return MessageResult(message_pk, outcome, kind, tuple(ticket_ids))

    if not triage.requests and triage.gratitude_only:
        _record_outcome(conn, message_pk, outcome="not_actionable", kind="thanks", reason=lookup.refused)
        return MessageResult(message_pk, "not_actionable", "thanks")

    conversation_id = _new_conversation(conn, parsed, sender.account, sent_at, thread_hint)
    _join_conversation(conn, message_pk, conversation_id, sent_at)
    _register_ids(conn, conversation_id, parsed)
    ticket_ids = create_tickets(
        conn,
        config.policy,
        triage,
        conversation_id=conversation_id,
        message_pk=message_pk,
        sent_at=sent_at,
        sender=sender,
        first_index=0,
        fallback_text=text or parsed.subject,
    )
    _record_outcome(conn, message_pk, outcome="tickets_created", kind="request", reason=lookup.refused)
    return MessageResult(message_pk, "tickets_created", "request", tuple(ticket_ids))


def _language(text: str) -> str | None:
    try:
        from backend.mail.language import detect_language
    except ImportError:  # pragma: no cover - the module ships with the package
        return None
    return detect_language(text)


def _record_llm_calls(conn: psycopg.Connection, config: PipelineConfig, result: MessageResult) -> None:
    if config.llm_calls is None:
        return
    for call in config.llm_calls.drain():
        record_llm_call(conn, call, result.ticket_ids, message_pk=result.message_pk)


def process_message(conn: psycopg.Connection, config: PipelineConfig, message_pk: int) -> MessageResult:
    """Process one stored message in its own transaction; an internal error is recorded, not lost."""
    if config.llm_calls is not None:
        config.llm_calls.drain()  # calls of an earlier, rolled-back attempt are not this message's
    try:
        with conn.transaction():
            result = _process(conn, config, message_pk)
            _record_llm_calls(conn, config, result)
            return result
    except Exception as error:  # ours: record it so the message has an outcome, and report it
        logger.exception("processing message %s failed", message_pk)
        reason = f"internal error: {type(error).__name__}: {error}"[:2000]
        failed = MessageResult(message_pk, "failed", None, reason=reason)
        with conn.transaction():
            _record_outcome(conn, message_pk, outcome="failed", kind=None, reason=reason)
            _record_llm_calls(conn, config, failed)  # what a failed email cost is still recorded
        return failed


def process_pending(conn: psycopg.Connection, config: PipelineConfig, *, mailbox: str | None = None) -> ProcessReport:
    report = ProcessReport()
    for message_pk in pending_message_pks(conn, mailbox=mailbox):
        result = process_message(conn, config, message_pk)
        if result.outcome == "skipped":
            continue
        report.processed += 1
        report.count(result.outcome)
        report.tickets_created += len(result.ticket_ids)
        if result.reason and result.reason.startswith("internal error"):
            report.internal_errors += 1
    return report


def reprocess_failed(conn: psycopg.Connection, *, mailbox: str | None = None) -> int:
    """Mark failed messages unprocessed again (after a fix), so the next run retries them."""
    with conn.transaction():
        cursor = conn.execute(
            """update messages set outcome = null, outcome_reason = null, kind = null, processed_at = null
               where outcome = 'failed' and (%(mailbox)s::text is null or mailbox = %(mailbox)s)""",
            {"mailbox": mailbox},
        )
    return cursor.rowcount
