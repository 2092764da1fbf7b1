-- mart_mail_freshness_daily: the freshness alarm per mailbox and day: checks run, how many found the
-- mailbox stale, the worst and the last lag of the day (minutes), and whether the day's last check was stale.
-- grain: check day x mailbox; key: (checked_on, mailbox)
create view mart_mail_freshness_daily as
with checks as (
    select
        *,
        (checked_at at time zone 'UTC')::date as checked_on,
        row_number() over (
            partition by mailbox, (checked_at at time zone 'UTC')::date
            order by checked_at desc, freshness_check_id desc
        ) as recency
    from stg_mail_freshness_checks
)

select
    checked_on,
    mailbox,
    count(*) as checks,
    count(*) filter (where is_stale) as stale_checks,
    round((max(lag_seconds) / 60)::numeric, 2) as max_lag_minutes,
    round((max(lag_seconds) filter (where recency = 1) / 60)::numeric, 2) as last_lag_minutes,
    bool_or(is_stale) filter (where recency = 1) as is_last_check_stale,
    max(checked_at) as last_checked_at
from checks
group by checked_on, mailbox;
