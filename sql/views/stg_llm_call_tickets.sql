-- stg_llm_call_tickets: which tickets an LLM call served, with the ticket's share of its cost.
-- grain: LLM call x ticket; key: (llm_call_id, ticket_id)
create view stg_llm_call_tickets as
select
    llm_call_id,
    ticket_id,
    cost_share_usd
from llm_call_tickets;
