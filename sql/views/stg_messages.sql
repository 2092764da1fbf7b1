-- stg_messages: one row per stored email (inbound and outbound), without the raw bytes.
-- grain: message; key: message_pk
create view stg_messages as
select
    message_pk,
    mailbox,
    source_id,
    source_label,
    direction,
    message_id,
    subject,
    from_address,
    account_id,
    contact_id,
    conversation_id,
    sent_at,
    ingested_at,
    source_received_at,
    processed_at,
    size_bytes,
    kind,
    outcome,
    outcome_reason,
    followup_of,
    language,
    jsonb_array_length(attachments) as attachment_count,
    jsonb_array_length(parse_defects) as parse_defect_count,
    processed_at is not null as is_processed
from messages;
