-- The emails, with small raw bodies (the RFC 5322 headers that matter and one line).
insert into messages (message_pk, mailbox, source_id, raw, raw_sha256, size_bytes, ingested_at, source_label,
                      source_received_at, message_id, subject, from_address, sent_at, contact_id, account_id,
                      conversation_id, body_text, kind, outcome, outcome_reason, processed_at)
overriding system value
select
    message_pk, %(mailbox)s, 'seed-' || message_pk, raw, encode(sha256(raw), 'hex'), length(raw),
    sent_at + interval '40 seconds', 'seed-' || message_pk || '.eml', sent_at + interval '5 seconds',
    '<seed-' || message_pk || '@seed.example>', 'Seeded ' || kind, 'sender@' || coalesce(account_id, 'elsewhere') || '.example',
    sent_at, contact_id, account_id, conversation_id, 'seeded ' || kind, kind, outcome, outcome_reason,
    sent_at + interval '41 seconds'
from (
    select seed_messages.*,
           convert_to('Message-ID: <seed-' || message_pk || E'@seed.example>\r\nSubject: Seeded '
                      || kind || E'\r\n\r\nseeded ' || kind || E'\r\n', 'UTF8') as raw
    from seed_messages
) as prepared
