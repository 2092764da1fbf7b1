-- stg_policy_settings: policy values the marts need (default timezone, business day hours, program
-- start), copied from config/policy.yaml at each mart refresh (backend/marts/targets.py).
-- grain: setting; key: setting
create view stg_policy_settings as
select
    setting,
    value,
    source,
    loaded_at
from policy_settings;
