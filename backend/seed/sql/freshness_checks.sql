-- An hourly mailbox freshness check over the span, stale now and then.
insert into mail_freshness_checks (mailbox, checked_at, newest_in_mailbox_at, newest_ingested_at, lag_seconds,
                                   max_lag_seconds, is_stale)
select %(mailbox)s, checked_at, checked_at - interval '1 minute',
       checked_at - interval '1 minute' - make_interval(secs => lag), lag, 900, lag > 900
from (
    select %(start_date)s::timestamptz + make_interval(hours => hour) as checked_at,
           case
               when pg_temp.seed_u(hour, 71) < 0.015 then 900 + pg_temp.seed_u(hour, 72) * 6000
               else floor(pg_temp.seed_u(hour, 72) * 120)
           end as lag
    from generate_series(0, %(span_days)s * 24 - 1) as hour
) as checks
