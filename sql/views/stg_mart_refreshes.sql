-- stg_mart_refreshes: one row per refresh of the rollup tables (backend/marts/refresh.py).
-- grain: refresh; key: refresh_id
create view stg_mart_refreshes as
select
    refresh_id,
    mode,
    started_at,
    finished_at,
    watermark_at,
    tickets_refreshed,
    row_counts
from mart_refreshes;
