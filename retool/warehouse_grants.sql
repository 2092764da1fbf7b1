-- Read-only access for Retool's "tier0 warehouse" resource: the login `tier0_retool` may read the
-- marts (the views named fct_* and mart_* of sql/views) and nothing else: no raw table, no staging
-- view, no writes. A view reads its tables with its owner's rights, so granting the views is enough.
--
-- Run as the database owner, once the user exists (see retool/README.md):
--     psql "$DATABASE_URL" -f retool/warehouse_grants.sql
-- and again after every `tier0 db upgrade`: the upgrade drops and recreates the views, and a
-- recreated view has lost its grants.
grant usage on schema public to tier0_retool;

do $$
declare
    mart record;
begin
    for mart in
        select viewname
        from pg_views
        where schemaname = 'public' and (viewname like 'fct\_%' or viewname like 'mart\_%')
    loop
        execute format('grant select on %I to tier0_retool', mart.viewname);
    end loop;
end
$$;

-- The business-hours columns of the marts (fct_tickets' first response and resolution in business
-- hours) come from functions that read the calendar table with the caller's rights, so the reader
-- needs that table too. It holds open hours per day and timezone, no customer data, and is created
-- once by migration 008, so this grant lasts across upgrades.
grant select on business_calendar_days to tier0_retool;

-- Belt and braces: every session of the user is read-only and a runaway query stops after 30 s.
alter role tier0_retool set default_transaction_read_only = on;
alter role tier0_retool set statement_timeout = '30s';
