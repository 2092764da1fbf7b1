-- stg_tickets: one row per ticket (one request of one email), its current state.
-- grain: ticket; key: ticket_id
create view stg_tickets as
select
    ticket_id,
    public_id,
    conversation_id,
    message_pk,
    request_index,
    account_id,
    contact_id,
    summary,
    category,
    product_area,
    integration,
    priority,
    tier,
    route,
    status,
    sentiment,
    confidence,
    is_flagged_for_review,
    classifier,
    model_version,
    created_at,
    first_response_due_at,
    resolution_due_at,
    first_responded_at,
    resolved_at,
    resolved_tier,
    updated_at
from tickets;
