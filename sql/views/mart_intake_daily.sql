-- mart_intake_daily: inbound email per day (by sending day) and mailbox, by kind and outcome, with
-- coverage (actionable emails that became at least one ticket), automated mail and failures, for all
-- accounts ('*') and per account ('(none)': senders without an account).
-- grain: sent day x account_key x mailbox x kind x outcome x failure reason
-- key: (sent_on, account_key, mailbox, kind, outcome, failure_reason)
create view mart_intake_daily as
select
    sent_on,
    case when grouping(account_id) = 1 then '*' else coalesce(account_id, '(none)') end as account_key,
    mailbox,
    coalesce(kind, '(unprocessed)') as kind,
    outcome,
    coalesce(failure_reason, '') as failure_reason,
    count(*) as emails,
    count(*) filter (where is_actionable) as actionable,
    count(*) filter (where is_actionable and tickets_created > 0) as actionable_with_ticket,
    count(*) filter (where is_not_actionable) as not_actionable,
    count(*) filter (where is_automated) as automated,
    count(*) filter (where is_followup) as followups,
    count(*) filter (where is_failed) as failed,
    sum(tickets_created)::bigint as tickets_created
from fct_messages
group by grouping sets (
    (sent_on, mailbox, coalesce(kind, '(unprocessed)'), outcome, coalesce(failure_reason, '')),
    (sent_on, account_id, mailbox, coalesce(kind, '(unprocessed)'), outcome, coalesce(failure_reason, ''))
);
