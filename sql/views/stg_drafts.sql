-- stg_drafts: one row per reply draft Tier 0 wrote (from the knowledge base or a known incident).
-- Replies people wrote by hand (generator 'human', migration 009) are not drafts and are left out.
-- grain: draft; key: draft_id
create view stg_drafts as
select
    draft_id,
    ticket_id,
    status,
    generator,
    model,
    incident_id,
    search_score,
    jsonb_array_length(citations) as citation_count,
    is_edited,
    created_at,
    decided_at,
    decided_by,
    reject_reason,
    sent_at,
    generator in ('extractive', 'claude') as is_from_kb
from drafts
where generator <> 'human';
