"""Tier 0 reply drafts for a ticket: a known-incident message, or an answer grounded in the KB.

`draft_for_ticket(conn, ticket_id)`:

1. An open incident that explains the ticket (see backend.kb.incidents) links the ticket to it
   and its customer message becomes the draft (generator 'incident').
2. Otherwise, for tickets of the tiers in policy `kb.draft_tiers` (Tier 0, and Tier 1 as help
   for OPS), the ticket's request text is searched. When the search says an article answers
   it, the draft is
   - extractive (default): a greeting, the best-matching section(s) of the article quoted
     verbatim (heading and text exactly as the article has them), the article's title and
     link, and a sign-off. Nothing else is written, so nothing is invented; or
   - written by Claude (`claude=` a `ClaudeDrafter`) from the cited articles only; when Claude
     says the articles do not answer, there is no draft; when Claude cannot be reached, the
     extractive draft is written instead.
3. The draft is stored as 'pending' with its citations (slug, version, url), any older pending
   draft of the ticket becomes 'superseded', and a 'drafted' ticket event is recorded, all in
   one transaction. Without an answer, nothing is written and None is returned.

Only articles whose audience is in `kb.draft_audiences` are quoted to a customer (an internal
OPS page is not).

Failures: an unknown ticket id raises `LookupError` (the caller's); database errors raise (ours).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from backend.kb.claude_drafter import ClaudeDrafter, ClaudeDraftError, SourceArticle
from backend.kb.config import KbSettings, load_kb_settings
from backend.kb.documents import split_sections
from backend.kb.embedder import Embedder, load_embedder, vector_literal
from backend.kb.incidents import Incident, link_ticket, matching_open_incident
from backend.kb.search import _NOT_GIVEN, answer_rule, decide_answerable, rank_articles

logger = logging.getLogger(__name__)

# A second section is quoted only when its best passage scores this close to the best section's.
_SECOND_SECTION_RATIO = 0.9


@dataclass(frozen=True)
class Draft:
    draft_id: int
    ticket_id: int
    status: str
    body: str
    citations: list[dict[str, Any]]
    generator: str
    incident_id: int | None = None
    model: str | None = None


@dataclass(frozen=True)
class _Ticket:
    ticket_id: int
    tier: int
    category: str
    product_area: str
    integration: str | None
    request_text: str
    contact_name: str | None


def _load_ticket(conn: psycopg.Connection, ticket_id: int) -> _Ticket:
    row = conn.execute(
        """
        select tickets.ticket_id, tickets.tier, tickets.category, tickets.product_area, tickets.integration,
               tickets.request_text, contacts.display_name
        from tickets
        left join contacts on contacts.contact_id = tickets.contact_id
        where tickets.ticket_id = %s
        """,
        (ticket_id,),
    ).fetchone()
    if row is None:
        raise LookupError(f"no ticket {ticket_id}")
    return _Ticket(*row)


def _greeting(name: str | None, settings: KbSettings) -> str:
    first = name.split()[0].strip(",.") if name and name.split() else ""
    return settings.greeting.format(first_name=first) if first else settings.greeting_without_name


def _article(conn: psycopg.Connection, slug: str, version: int) -> tuple[SourceArticle, str | None]:
    row = conn.execute(
        "select title, url, body, audience from kb_article_versions where slug = %s and version = %s",
        (slug, version),
    ).fetchone()
    if row is None:
        raise LookupError(f"no KB article {slug} version {version}")
    title, url, body, audience = row
    return SourceArticle(slug=slug, version=version, title=title, url=url, body=body), audience


_SECTION_SCORES = """
with sections as (
    select section_index, heading, body
    from unnest(%(indexes)s::int[], %(headings)s::text[], %(bodies)s::text[]) as listed (section_index, heading, body)
),

query as (
    select
        tsvector_to_array(to_tsvector('english', %(query)s)) as lexemes,
        websearch_to_tsquery('english', array_to_string(
            regexp_split_to_array(lower(%(query)s), '[^a-z0-9]+'), ' or ')) as tsquery
),

best_passages as (
    select section_index, max(1 - (embedding <=> %(vector)s::vector)) as similarity
    from kb_passages
    where slug = %(slug)s and version = %(version)s and embedding is not null
        and %(vector)s::vector is not null
    group by section_index
)

select
    sections.section_index,
    coalesce(best_passages.similarity, ts_rank(to_tsvector('english', sections.heading || ' ' || sections.body),
                                               query.tsquery)),
    coalesce((
        select avg(case when entry.lexeme = any(query.lexemes) then 1.0 else 0.0 end)
        from unnest(to_tsvector('english', sections.heading)) as entry
    ), 0)
from sections
cross join query
left join best_passages on best_passages.section_index = sections.section_index
"""

# A heading whose words the customer used ("The email did not arrive") is the article's own
# signpost to the answer; it adds this much to the section's best passage similarity.
_HEADING_MATCH_WEIGHT = 0.3


def _section_scores(
    conn: psycopg.Connection, article: SourceArticle, query: str, vector: Sequence[float] | None
) -> dict[int, float]:
    """How well each section answers the query: its best passage's vector similarity (full-text
    rank without vectors) plus a bonus for heading words found in the query. The lead (the
    text under the title) only introduces the article and is not quoted when other sections exist."""
    sections = split_sections(article.body, article.title)
    candidates = [
        (index, section) for index, section in enumerate(sections)
        if section.heading != article.title or len(sections) == 1
    ]
    rows = conn.execute(
        _SECTION_SCORES,
        {
            "indexes": [index for index, _ in candidates],
            "headings": [section.heading for _, section in candidates],
            "bodies": [section.text for _, section in candidates],
            "query": query,
            "vector": vector_literal(vector) if vector is not None else None,
            "slug": article.slug,
            "version": article.version,
        },
    ).fetchall()
    return {int(index): float(score) + _HEADING_MATCH_WEIGHT * float(overlap) for index, score, overlap in rows}


def extractive_body(
    article: SourceArticle, section_scores: dict[int, float], greeting: str, settings: KbSettings
) -> str:
    """Greeting, the best section(s) verbatim in article order, title and link, sign-off."""
    sections = split_sections(article.body, article.title)
    ranked = sorted(section_scores.items(), key=lambda item: (-item[1], item[0]))
    if not ranked:
        chosen = [0]
    else:
        best_index, best_score = ranked[0]
        chosen = [best_index] + [index for index, score in ranked[1 : settings.draft_max_sections]
                                 if best_score > 0 and score >= best_score * _SECOND_SECTION_RATIO]
    quoted = []
    for index in sorted(chosen):
        section = sections[index]
        heading = "" if section.heading == article.title else f"{section.heading}\n"
        quoted.append(f"{heading}{section.text}")
    parts = [greeting, *quoted, f"{article.title}: {article.url}", settings.sign_off]
    return "\n\n".join(parts)


def _store(
    conn: psycopg.Connection,
    ticket_id: int,
    *,
    body: str,
    citations: list[dict[str, Any]],
    generator: str,
    model: str | None = None,
    incident: Incident | None = None,
    query: str | None = None,
    score: float | None = None,
    now: datetime | None = None,
) -> Draft:
    conn.execute("update drafts set status = 'superseded' where ticket_id = %s and status = 'pending'", (ticket_id,))
    row = conn.execute(
        """
        insert into drafts (ticket_id, body, citations, generator, model, incident_id, search_query, search_score,
                            created_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))
        returning draft_id, status
        """,
        (ticket_id, body, Jsonb(citations), generator, model, incident.incident_id if incident else None,
         query, score, now),
    ).fetchone()
    assert row is not None
    draft_id, status = row
    conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
        values (%s, 'drafted', coalesce(%s, now()), 'kb', %s, %s)
        """,
        (
            ticket_id,
            now,
            Jsonb({"draft_id": draft_id, "generator": generator, "citations": citations,
                   "incident_id": incident.incident_id if incident else None}),
            f"drafted:{draft_id}",
        ),
    )
    return Draft(draft_id, ticket_id, status, body, citations, generator,
                 incident.incident_id if incident else None, model)


def _citation(article: SourceArticle) -> dict[str, Any]:
    return {"slug": article.slug, "version": article.version, "url": article.url}


def draft_for_ticket(
    conn: psycopg.Connection,
    ticket_id: int,
    *,
    claude: ClaudeDrafter | None = None,
    embedder: Embedder | None = _NOT_GIVEN,
    settings: KbSettings | None = None,
    now: datetime | None = None,
) -> Draft | None:
    """Write a pending draft for the ticket when an incident or the KB answers it; see module doc.
    `now` dates the draft and its event (default: the database's clock); the demo's replay sets it."""
    settings = settings or load_kb_settings()
    # Everything, the ticket's read included, happens in one transaction block: on a connection
    # with no transaction open it commits at the end (callers such as the drafting outbox rely
    # on that); inside a caller's transaction it is a savepoint.
    with conn.transaction():
        ticket = _load_ticket(conn, ticket_id)
        greeting = _greeting(ticket.contact_name, settings)
        incident = matching_open_incident(
            conn, category=ticket.category, product_area=ticket.product_area, integration=ticket.integration,
            settings=settings,
        )
        if incident is not None:
            link_ticket(conn, ticket.ticket_id, incident)
            body = "\n\n".join([greeting, incident.customer_message.strip(), settings.sign_off])
            return _store(
                conn, ticket.ticket_id, body=body, citations=[], generator="incident", incident=incident, now=now
            )

        if ticket.tier not in settings.draft_tiers:
            return None
        chosen_embedder = load_embedder() if embedder is _NOT_GIVEN else embedder
        vector = chosen_embedder.embed([ticket.request_text])[0] if chosen_embedder is not None else None
        ranked = rank_articles(conn, ticket.request_text, query_vector=vector, settings=settings, limit=5)
        # The same decision as search_kb's (the answerability model with vectors).
        if not decide_answerable(conn, ticket.request_text, ranked, settings, has_vectors=vector is not None):
            return None
        rule = answer_rule(settings, has_vectors=vector is not None)
        # The best article, then the runners-up that also reach the score threshold, best first,
        # that may be quoted to a customer.
        sources: list[SourceArticle] = []
        for position, candidate in enumerate(ranked[:4]):
            if position > 0 and candidate.score < rule.min_score:
                break
            article, audience = _article(conn, candidate.slug, candidate.version)
            if audience is None or audience in settings.draft_audiences:
                sources.append(article)
        if not sources:
            return None
        best_score = ranked[0].score

        if claude is not None:
            try:
                written = claude.draft(request_text=ticket.request_text, articles=sources[:3])
            except ClaudeDraftError as error:
                logger.warning("ticket %s: Claude draft failed (%s); writing an extractive draft", ticket_id, error)
            else:
                if written is None:
                    return None
                return _store(
                    conn, ticket.ticket_id, body=written.body, citations=[_citation(a) for a in written.cited],
                    generator="claude", model=written.model, query=ticket.request_text, score=best_score, now=now,
                )

        article = sources[0]
        section_scores = _section_scores(conn, article, ticket.request_text, vector)
        body = extractive_body(article, section_scores, greeting, settings)
        return _store(
            conn, ticket.ticket_id, body=body, citations=[_citation(article)], generator="extractive",
            query=ticket.request_text, score=best_score, now=now,
        )
