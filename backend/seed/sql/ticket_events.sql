-- Each ticket's history up to the end of the seeded span (see docs/events.md for the vocabulary).
insert into ticket_events (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, from_route, to_route,
                           message_pk, data, recorded_at)
select t.ticket_id, e.event_type, e.occurred_at, e.actor, e.from_tier, e.to_tier, e.from_route, e.to_route,
       e.message_pk, e.data, e.occurred_at
from seed_timed as t
cross join lateral (
    values
        ('created', t.created_at, 'system', null::smallint, null::smallint, null::text, null::text,
         t.message_pk, '{}'::jsonb),
        ('classified', t.created_at, 'system', null, null, null, null, t.message_pk,
         jsonb_build_object('classifier', 'seed', 'category', t.category)),
        ('routed', t.created_at, 'system', null, t.first_tier::smallint, null, t.first_route, null,
         jsonb_build_object('priority', t.priority)),
        (case when t.priority = 'P1' then 'paged' end, t.created_at, 'system', null, null, null, null, null,
         '{"channel": "pager"}'::jsonb),
        (case when t.first_tier >= 1 then 'assigned' end, t.created_at + interval '3 minutes', 'user:lead', null,
         null, null, null, null, jsonb_build_object('assignee', 'agent-' || (t.k %% 12))),
        (case when t.is_misrouted then 'misrouted' end, t.misroute_at, 'user:lead', 2::smallint, 2::smallint,
         t.first_route, t.engineering_route, null, '{"reason": "wrong queue"}'::jsonb),
        (case when t.first_tier = 0 then 'drafted' end, t.created_at + interval '1 minute', 'kb', null, null,
         null, null, null, jsonb_build_object('draft_id', t.draft_id)),
        (case t.tier0_decision
            when 'approved' then 'draft_approved' when 'auto_sent' then 'auto_sent' when 'rejected' then 'draft_rejected'
         end,
         case when t.tier0_decision = 'rejected' then t.escalated_at else t.first_response_at end,
         case when t.tier0_decision = 'auto_sent' then 'system' else 'user:ops' end, null, null, null, null, null,
         jsonb_build_object('draft_id', t.draft_id, 'edited', t.u_edit < 0.3)),
        ('reply_sent', t.first_response_at, 'system', null, null, null, null, null, '{"channel": "gmail"}'::jsonb),
        (case when t.final_tier > t.first_tier then 'escalated' end, t.escalated_at, 'user:ops',
         t.first_tier::smallint, t.final_tier::smallint,
         case when t.is_misrouted then t.engineering_route else t.first_route end, t.final_route, null,
         '{"reason": "needs a higher tier"}'::jsonb),
        (case when t.final_tier >= 2 then 'linear_issue_created' end,
         case when t.final_tier > t.first_tier then t.escalated_at else t.created_at end + interval '2 minutes',
         'linear', null, null, null, null, null, '{}'::jsonb),
        (case when t.is_waiting then 'waiting_on_customer' end, t.first_response_at + interval '1 minute',
         'user:ops', null, null, null, null, null, '{}'::jsonb),
        (case when t.has_followup then 'customer_replied' end, t.followup_at, 'system', null, null, null, null,
         %(message_base)s + %(tickets)s + t.k, '{"kind": "followup"}'::jsonb),
        (case when t.is_first_response_breached then 'sla_breach' end, t.first_response_due_at, 'prefect',
         null, null, null, null, null, '{"clock": "first_response", "fraction": 1.0}'::jsonb),
        (case when t.is_resolution_breached then 'sla_breach' end, t.resolution_due_at, 'prefect', null, null,
         null, null, null, '{"clock": "resolution", "fraction": 1.0}'::jsonb),
        (case when t.is_reopened then 'resolved' end, t.first_resolved_at, 'user:ops', null,
         t.final_tier::smallint, null, null, null, '{"resolution": "human"}'::jsonb),
        (case when t.is_reopened then 'reopened' end, t.reopened_at, 'system', null, null, null, null, null,
         '{"reason": "customer replied"}'::jsonb),
        ('resolved', t.resolution_at, case when t.final_tier = 0 then 'system' else 'user:ops' end, null,
         t.final_tier::smallint, null, null, null,
         jsonb_build_object('resolution', case when t.tier0_decision = 'auto_sent' then 'auto_sent' else 'human' end)),
        (case when t.final_tier = 0 then 'assumed_resolved' end, t.resolution_at + interval '24 hours',
         'prefect', null, null, null, null, null, '{}'::jsonb),
        (case when t.final_tier = 0 and t.u_verified < 0.92 then 'verified_resolved' end,
         t.resolution_at + interval '72 hours', 'prefect', null, null, null, null, null, '{}'::jsonb)
) as e (event_type, occurred_at, actor, from_tier, to_tier, from_route, to_route, message_pk, data)
where e.event_type is not null and e.occurred_at <= %(history_end)s
