-- stg_accounts: one row per customer account, as imported from the CRM.
-- grain: account; key: account_id
create view stg_accounts as
select
    account_id,
    name as account_name,
    timezone,
    plan,
    mrr_usd,
    contract_start,
    renewal_date,
    onboarding_status,
    integration,
    integration_pending_since,
    created_at,
    updated_at
from accounts;
