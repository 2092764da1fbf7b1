-- stg_conversations: one row per email conversation (a thread of customer messages).
-- grain: conversation; key: conversation_id
create view stg_conversations as
select
    conversation_id,
    account_id,
    subject,
    root_message_id,
    created_at,
    last_message_at
from conversations;
