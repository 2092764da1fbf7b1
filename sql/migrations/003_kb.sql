-- 003: the knowledge base (help-center articles and runbooks, every version kept), its search
-- columns, the reply drafts Tier 0 writes from it, and known incidents with the tickets they explain.
-- Timestamps are timestamptz (UTC); booleans are is_/has_; ids are <thing>_id.

create extension if not exists vector;
create extension if not exists pg_trgm;

-- One row per article or runbook, pointing at the version search and drafts use now.
create table kb_articles (
    slug text primary key check (slug ~ '^[a-z0-9][a-z0-9-]*$'),
    kind text not null check (kind in ('article', 'runbook')),
    current_version integer not null check (current_version >= 1),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Every imported version. An edit adds a version; re-importing identical content adds nothing
-- (the importer compares content_sha256 with the current version's).
create table kb_article_versions (
    slug text not null references kb_articles (slug),
    version integer not null check (version >= 1),
    content_sha256 text not null,
    title text not null,
    tags text[] not null default '{}',
    audience text,
    product_area text,
    category text,
    integration text,
    applies_to text[] not null default '{}',  -- runbooks: the categories and integrations they serve
    source_updated_on date,                    -- the front matter's `updated`
    front_matter jsonb not null default '{}',  -- everything the front matter said, as written
    body text not null,
    url text not null,
    source_path text,
    -- Search: title weighs most, then tags, then the body (setweight A/B/C, Postgres docs 12.3.3).
    search_vector tsvector not null,
    -- Title and tags as one string, for trigram matching of misspellings and nicknames.
    search_label text not null,
    embedding vector(384),                     -- title + tags + lead paragraph; null when no embedder ran
    embedding_model text,
    imported_at timestamptz not null default now(),
    primary key (slug, version)
);

create index kb_article_versions_search on kb_article_versions using gin (search_vector);
create index kb_article_versions_label_trgm on kb_article_versions using gin (search_label gin_trgm_ops);

alter table kb_articles
    add constraint kb_articles_current_version_exists
    foreign key (slug, current_version) references kb_article_versions (slug, version)
    deferrable initially deferred;

-- Passages of a version: one list item or sentence each, with the heading of its section.
-- Each has its own vector: a question usually matches one step or sentence of an article far
-- better than the article as a whole, and drafts quote the section of the best passage.
create table kb_passages (
    slug text not null,
    version integer not null,
    passage_index integer not null check (passage_index >= 0),
    section_index integer not null check (section_index >= 0),
    heading text not null,
    body text not null,
    embedding vector(384),
    primary key (slug, version, passage_index),
    foreign key (slug, version) references kb_article_versions (slug, version)
);

-- Words of titles, tags and bodies, for correcting misspelled query words with trigrams.
create table kb_terms (
    term text primary key,
    document_count integer not null check (document_count >= 0)
);

create index kb_terms_trgm on kb_terms using gin (term gin_trgm_ops);

-- Known incidents: while one is open (ended_at is null), tickets it explains get its customer
-- message as their draft reply.
create table incidents (
    incident_id bigint generated always as identity primary key,
    product_area text not null,
    integration text,
    title text not null,
    customer_message text not null,
    started_at timestamptz not null,
    ended_at timestamptz,
    created_at timestamptz not null default now(),
    check (ended_at is null or ended_at >= started_at)
);

create index incidents_open on incidents (product_area, integration) where ended_at is null;

create table ticket_incidents (
    ticket_id bigint not null references tickets (ticket_id),
    incident_id bigint not null references incidents (incident_id),
    linked_at timestamptz not null default now(),
    primary key (ticket_id, incident_id)
);

create index ticket_incidents_incident on ticket_incidents (incident_id);

-- Reply drafts for a human to approve. Citations name the exact article versions quoted, so a
-- later edit of an article never changes what an approved draft was based on.
create table drafts (
    draft_id bigint generated always as identity primary key,
    ticket_id bigint not null references tickets (ticket_id),
    status text not null default 'pending'
        check (status in ('pending', 'approved', 'rejected', 'sent', 'superseded')),
    body text not null,
    citations jsonb not null default '[]',     -- [{"slug": ..., "version": ..., "url": ...}]
    generator text not null check (generator in ('extractive', 'claude', 'incident')),
    model text,                                -- the Claude model, when generator = 'claude'
    incident_id bigint references incidents (incident_id),
    search_query text,
    search_score real,
    is_edited boolean not null default false,  -- the approver changed the body before sending
    created_at timestamptz not null default now(),
    decided_at timestamptz,
    decided_by text,
    reject_reason text,
    sent_at timestamptz,
    check (status <> 'rejected' or reject_reason is not null),
    check ((status in ('approved', 'rejected', 'sent')) = (decided_at is not null)),
    check (generator <> 'incident' or incident_id is not null),
    check (generator = 'incident' or jsonb_array_length(citations) >= 1)
);

-- At most one draft waits for approval per ticket; a newer draft supersedes the older one.
create unique index drafts_one_pending_per_ticket on drafts (ticket_id) where status = 'pending';
create index drafts_status on drafts (status, created_at);
