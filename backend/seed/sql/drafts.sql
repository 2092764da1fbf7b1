-- Tier-0 drafts: extractive or Claude; sent (approved, some edited, or auto-sent), rejected, or still pending.
insert into drafts (draft_id, ticket_id, status, body, citations, generator, model, search_query, search_score,
                    is_edited, created_at, decided_at, decided_by, reject_reason, sent_at)
overriding system value
select
    draft_id, ticket_id,
    case
        when decided_at > %(history_end)s then 'pending'
        when tier0_decision = 'rejected' then 'rejected'
        else 'sent'
    end,
    'Seeded draft answer.', '[{"slug": "seed-article", "version": 1}]'::jsonb,
    case when u_generator < 0.7 then 'extractive' else 'claude' end,
    case when u_generator < 0.7 then null else 'claude-sonnet-4-5' end,
    category, 0.5 + u_generator / 2,
    decided_at <= %(history_end)s and tier0_decision = 'approved' and u_edit < 0.3,
    created_at + interval '1 minute',
    case when decided_at <= %(history_end)s then decided_at end,
    case when decided_at <= %(history_end)s then case when tier0_decision = 'auto_sent' then 'auto' else 'ops' end end,
    case when decided_at <= %(history_end)s and tier0_decision = 'rejected' then 'answer did not fit' end,
    case when decided_at <= %(history_end)s and tier0_decision <> 'rejected' then decided_at end
from (
    select seed_timed.*,
           case when tier0_decision = 'rejected' then escalated_at else first_response_at end as decided_at
    from seed_timed
    where first_tier = 0 and created_at + interval '1 minute' <= %(history_end)s
) as tier0
