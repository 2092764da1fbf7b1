-- The tickets, in their state at the end of the history.
insert into tickets (ticket_id, conversation_id, message_pk, request_index, account_id, contact_id, summary,
                     request_text, category, product_area, integration, priority, tier, route, status,
                     sentiment, confidence, classifier, model_version, created_at, first_response_due_at,
                     resolution_due_at, first_responded_at, resolved_at, resolved_tier, updated_at)
overriding system value
select
    ticket_id, conversation_id, message_pk, request_index, account_id, contact_id,
    'Seeded ' || category || ' request', 'Seeded ' || category || ' request', category, product_area,
    integration, priority,
    case when is_resolved or escalated_at <= %(history_end)s then final_tier else first_tier end,
    case when is_resolved or escalated_at <= %(history_end)s then final_route else first_route end,
    case when is_resolved then 'resolved' when is_waiting and is_responded then 'pending_customer' else 'open' end,
    'neutral', 0.9, 'seed', 'seed-1', created_at, first_response_due_at, resolution_due_at,
    case when is_responded then first_response_at end,
    case when is_resolved then resolution_at end,
    case when is_resolved then final_tier end,
    least(greatest(created_at, case when is_resolved then resolution_at else first_response_at end), %(history_end)s)
from seed_timed
