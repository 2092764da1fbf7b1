-- One conversation per ticket email.
insert into conversations (conversation_id, account_id, subject, subject_key, root_message_id, created_at,
                           last_message_at)
overriding system value
select conversation_id, account_id, 'Seeded ' || category, 'seeded ' || category,
       '<seed-' || message_pk || '@seed.example>', sent_at, sent_at
from seed_messages
where kind = 'request' and conversation_id is not null
