-- Seed accounts ('seed-0001', ...): timezone by weight (the case expression history.py fills in), plan, MRR, contract.
insert into accounts (account_id, name, timezone, plan, mrr_usd, contract_start, renewal_date,
                      onboarding_status, integration)
select
    'seed-' || lpad(number::text, 4, '0'),
    'Seed Dealership ' || number,
    {timezone},
    (array['starter', 'growth', 'growth', 'enterprise'])[1 + floor(pg_temp.seed_u(number, 902) * 4)::integer],
    round((500 + pg_temp.seed_u(number, 903) * 8000)::numeric, 2),
    %(start_date)s::date - (floor(pg_temp.seed_u(number, 904) * 700))::integer,
    %(start_date)s::date - (floor(pg_temp.seed_u(number, 904) * 700))::integer + 730,
    'live',
    (array['tekion', 'cdk', 'xtime', 'mykaarma', 'none'])[1 + floor(pg_temp.seed_u(number, 905) * 5)::integer]
from generate_series(1, %(accounts)s) as number
on conflict (account_id) do nothing
