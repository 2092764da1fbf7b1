-- Four contacts per seed account.
insert into contacts (email, display_name, account_id)
           select 'contact' || person || '@seed-' || lpad(number::text, 4, '0') || '.example',
                  'Contact ' || person || ' of dealership ' || number, 'seed-' || lpad(number::text, 4, '0')
           from generate_series(1, %(accounts)s) as number cross join generate_series(1, 4) as person
           on conflict (email) do nothing
