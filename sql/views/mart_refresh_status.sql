-- mart_refresh_status: when the dashboards' rollups were last refreshed, and how (the latest refresh
-- only), so every dashboard can say how fresh its numbers are.
-- grain: latest refresh; key: refresh_id
create view mart_refresh_status as
select
    refresh_id,
    mode,
    started_at,
    finished_at,
    round(extract(epoch from finished_at - started_at)::numeric, 1) as refresh_seconds,
    watermark_at as data_as_of,
    tickets_refreshed,
    (row_counts ->> 'rollup_ticket_facts')::bigint as tickets_in_snapshot
from stg_mart_refreshes
order by refresh_id desc
limit 1;
