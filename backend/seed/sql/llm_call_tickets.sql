-- Which tickets each LLM call served, the call's cost split evenly between them.
insert into llm_call_tickets (llm_call_id, ticket_id, cost_share_usd)
select calls.llm_call_id, tickets.ticket_id,
       round(calls.cost_usd / count(*) over (partition by calls.llm_call_id), 8)
from llm_calls as calls
inner join seed_timed as tickets on tickets.message_pk = calls.message_pk
where calls.llm_call_id > %(llm_base)s and calls.purpose = 'triage' and calls.outcome = 'ok'
union all
select %(llm_base)s + 4 * %(tickets)s + ticket_id - %(ticket_base)s, ticket_id, 0.0125
from seed_timed where first_tier = 0 and u_generator >= 0.7 and created_at + interval '1 minute' <= %(history_end)s
