-- Internal notes from the people working a ticket: more at higher tiers.
insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, recorded_at)
select t.ticket_id, 'internal_note', noted.at, 'user:agent-' || (t.k %% 12), '{}'::jsonb, noted.at
from seed_timed as t
cross join lateral generate_series(1, floor(t.u_notes * (case when t.final_tier >= 2 then 6 else 3 end))::integer) as note
cross join lateral (
    select date_trunc('second', t.created_at + (t.resolution_at - t.created_at) * note / 7.0) as at
) as noted
where t.final_tier >= 1 and noted.at <= %(history_end)s
