-- One email domain per seed account.
insert into account_domains (domain, account_id)
           select 'seed-' || lpad(number::text, 4, '0') || '.example', 'seed-' || lpad(number::text, 4, '0')
           from generate_series(1, %(accounts)s) as number
           on conflict (domain) do nothing
