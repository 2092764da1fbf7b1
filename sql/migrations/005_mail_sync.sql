-- 005: where a mailbox source (Gmail) is up to, and the freshness alarm's record.
--
-- mail_sync_state: one row per mailbox. history_id is the Gmail history record the next
-- incremental sync starts after (Gmail history ids are unsigned 64-bit, so numeric(20, 0)).
-- It only advances after the messages before it were stored (backend/mail/gmail.py), so a
-- crash makes the next run re-read, never skip.
--
-- mail_freshness_checks: one row per freshness check (backend/mail/freshness.py), append-only,
-- so a view can show the latest check per mailbox and how the lag evolved.
--
-- messages.source_received_at: when the mailbox received the message (Gmail internalDate),
-- from SourceMessage.source_received_at; null for sources that do not know it. The freshness
-- check compares it with the newest message the mailbox holds.

create table mail_sync_state (
    mailbox text primary key,
    history_id numeric(20, 0) check (history_id >= 0),  -- null: never synced, the next run is a full sync
    last_full_sync_at timestamptz,
    last_full_sync_reason text check (last_full_sync_reason in ('first_sync', 'history_expired')),
    -- The earliest receive time the last full sync covered: older mail is outside the window on purpose.
    full_sync_window_start_at timestamptz,
    last_synced_at timestamptz,
    last_message_received_at timestamptz,     -- newest receive time among messages this source yielded
    newest_mailbox_message_at timestamptz,    -- the mailbox's newest message at the last freshness check
    updated_at timestamptz not null default now()
);

create table mail_freshness_checks (
    freshness_check_id bigint generated always as identity primary key,
    mailbox text not null,
    checked_at timestamptz not null,
    newest_in_mailbox_at timestamptz,         -- null: the mailbox had nothing to compare
    newest_ingested_at timestamptz,           -- null: nothing ingested for this mailbox yet
    full_sync_window_start_at timestamptz,    -- older mail is not expected to be ingested
    lag_seconds double precision check (lag_seconds >= 0),  -- how far the mailbox is ahead of us; 0 = caught up
    max_lag_seconds double precision not null check (max_lag_seconds >= 0),
    is_stale boolean not null
);

create index mail_freshness_checks_mailbox on mail_freshness_checks (mailbox, checked_at desc);

alter table messages add column if not exists source_received_at timestamptz;

-- The freshness check asks for the newest inbound message of one mailbox.
create index messages_mailbox_received on messages (mailbox, (coalesce(source_received_at, ingested_at)) desc)
    where direction = 'inbound';
