-- stg_mail_freshness_checks: one row per freshness check of a mailbox (how far ingestion lags the mailbox).
-- grain: freshness check; key: freshness_check_id
create view stg_mail_freshness_checks as
select
    freshness_check_id,
    mailbox,
    checked_at,
    newest_in_mailbox_at,
    newest_ingested_at,
    full_sync_window_start_at,
    lag_seconds,
    max_lag_seconds,
    is_stale
from mail_freshness_checks;
