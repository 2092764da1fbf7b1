-- 009: a reply a person writes in the queue (POST /tickets/{id}/reply) is stored as a draft row with
-- generator 'human', already approved by its author, so it leaves through the same idempotent send
-- outbox as an approved AI draft and its `reply_sent` records the ticket's first response (without
-- it a ticket answered by hand would look unanswered to the SLA monitor, which would escalate it).
-- A human reply cites no article.
alter table drafts drop constraint drafts_generator_check;
alter table drafts add constraint drafts_generator_check
    check (generator in ('extractive', 'claude', 'incident', 'human'));
alter table drafts drop constraint drafts_check3;
alter table drafts add constraint drafts_citations_check
    check (generator in ('incident', 'human') or jsonb_array_length(citations) >= 1);
