-- fct_messages: one row per ingested email with its outcome (tickets created, follow-up attached,
-- automated mail, not actionable, failed with a reason, or still waiting to be processed).
-- sent_on is the day (UTC) of the Date header, else of ingestion; failure_reason is the failure's
-- reason up to its first colon (the kind of failure, without the details that make each one unique).
-- grain: message; key: message_pk
create view fct_messages as
with ticket_counts as (
    select message_pk, count(*) as tickets_created
    from stg_tickets
    group by message_pk
)

select
    messages.message_pk,
    messages.mailbox,
    messages.source_id,
    messages.source_label,
    messages.message_id,
    messages.subject,
    messages.from_address,
    messages.account_id,
    messages.conversation_id,
    messages.sent_at,
    messages.ingested_at,
    messages.processed_at,
    messages.kind,
    coalesce(messages.outcome, 'pending') as outcome,
    messages.outcome_reason,
    messages.followup_of,
    coalesce(ticket_counts.tickets_created, 0) as tickets_created,
    messages.kind in ('request', 'followup_new') as is_actionable,
    messages.kind in ('auto_reply', 'bounce', 'newsletter', 'spam') as is_automated,
    messages.kind in ('followup', 'followup_new') as is_followup,
    messages.outcome = 'failed' as is_failed,
    -- Added for the intake-health marts (the columns above are the original contract).
    (coalesce(messages.sent_at, messages.ingested_at) at time zone 'UTC')::date as sent_on,
    messages.kind in ('auto_reply', 'bounce', 'newsletter', 'spam', 'thanks') as is_not_actionable,
    case when messages.outcome = 'failed' then left(split_part(messages.outcome_reason, ':', 1), 80) end
        as failure_reason,
    messages.size_bytes
from stg_messages as messages
left join ticket_counts on ticket_counts.message_pk = messages.message_pk
where messages.direction = 'inbound';
