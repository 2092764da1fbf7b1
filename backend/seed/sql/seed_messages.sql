-- seed_messages: every email of the history: one per ticket email, follow-ups, and about 28 other emails
-- per 100 (automated mail, thanks, and failed requests, more often early on).
create temp table seed_messages as
with emails as (
    select distinct on (message_pk)
        message_pk, conversation_id, account_id, contact_id, created_at as sent_at,
        'request' as kind, 'tickets_created' as outcome, null::text as outcome_reason, category
    from seed_timed
    order by message_pk, request_index
),

followups as (
    select
        %(message_base)s + %(tickets)s + k as message_pk, conversation_id, account_id, contact_id,
        followup_at as sent_at, 'followup' as kind, 'followup_attached' as outcome, null::text as outcome_reason,
        category
    from seed_timed
    where has_followup and followup_at <= %(history_end)s
),

others as (
    -- About 28 other emails per 100 ticket emails; failures are more frequent early on.
    select
        %(message_base)s + 2 * %(tickets)s + number as message_pk,
        null::bigint as conversation_id,
        case when pg_temp.seed_u(number, 42) < 0.5 then 'seed-' || lpad((1 + floor(pg_temp.seed_u(number, 43) * %(accounts)s))::text, 4, '0') end
            as account_id,
        null::bigint as contact_id,
        %(start_date)s::timestamptz
            + make_interval(secs => 86400 * %(span_days)s * power(pg_temp.seed_u(number, 44), case when pg_temp.seed_u(number, 41) < 0.035 then 1.6 else 0.7 end))
            as sent_at,
        case
            when pg_temp.seed_u(number, 41) < 0.035 then 'request'
            when pg_temp.seed_u(number, 41) < 0.30 then 'auto_reply'
            when pg_temp.seed_u(number, 41) < 0.38 then 'bounce'
            when pg_temp.seed_u(number, 41) < 0.58 then 'newsletter'
            when pg_temp.seed_u(number, 41) < 0.72 then 'spam'
            else 'thanks'
        end as kind,
        null::text as outcome,
        null::text as outcome_reason,
        null::text as category
    from generate_series(1, (%(tickets)s * 0.28)::integer) as number
)

select * from emails
union all
select * from followups
union all
select
    message_pk, conversation_id, account_id, contact_id, sent_at, kind,
    case
        when kind = 'request' then 'failed'
        when kind = 'thanks' then 'not_actionable'
        else 'automated'
    end,
    case
        when kind <> 'request' then null
        when pg_temp.seed_u(message_pk, 45) < 0.6 then 'classifier: timeout after 3 attempts'
        when pg_temp.seed_u(message_pk, 45) < 0.85 then 'parse: undecodable MIME part'
        else 'internal: database error'
    end,
    category
from others
