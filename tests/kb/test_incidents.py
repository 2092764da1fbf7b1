from pathlib import Path

import psycopg
import pytest

from backend.kb.config import load_kb_settings
from backend.kb.drafts import draft_for_ticket
from backend.kb.importer import import_kb
from backend.kb.incidents import close_incident, open_incident

from .conftest import TicketFactory

MESSAGE = "CDK is rejecting appointment writes from several partners since 8:10. Pam keeps booking and will write the queued appointments as soon as CDK recovers."


@pytest.fixture
def kb(db: psycopg.Connection, mini_kb: Path) -> psycopg.Connection:
    import_kb(db, mini_kb, embedder=None)
    return db


def test_open_incident_on_the_integration_answers_its_tickets(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    incident = open_incident(kb, product_area="integrations", integration="cdk", title="CDK write failures",
                             customer_message=MESSAGE)
    ticket_id = make_ticket("Nothing Pam booked this morning is in CDK!", tier=2, category="outage",
                            product_area="integrations", integration="cdk", contact_name="Sam Ortiz")
    draft = draft_for_ticket(kb, ticket_id, embedder=None)
    assert draft is not None and draft.generator == "incident" and draft.incident_id == incident.incident_id
    assert draft.body == f"Hi Sam,\n\n{MESSAGE}\n\n{load_kb_settings().sign_off}"
    assert draft.citations == []
    assert kb.execute("select incident_id from ticket_incidents where ticket_id = %s", (ticket_id,)).fetchone() == (
        incident.incident_id,
    )
    events = [row[0] for row in kb.execute(
        "select event_type from ticket_events where ticket_id = %s order by event_id", (ticket_id,)).fetchall()]
    assert events == ["incident_linked", "drafted"]
    # Drafting again links once, and the new draft supersedes the old.
    draft_for_ticket(kb, ticket_id, embedder=None)
    assert kb.execute("select count(*) from ticket_incidents where ticket_id = %s", (ticket_id,)).fetchone() == (1,)


def test_incident_on_another_integration_or_category_does_not_match(
    kb: psycopg.Connection, make_ticket: TicketFactory
) -> None:
    open_incident(kb, product_area="integrations", integration="cdk", title="CDK write failures",
                  customer_message=MESSAGE)
    tekion = make_ticket("Tekion appointments are not syncing", tier=2, category="integration_issue",
                         product_area="integrations", integration="tekion")
    invoice = make_ticket("Why is our invoice higher this month?", tier=1, category="billing",
                          product_area="integrations", integration="cdk")
    for ticket_id in (tekion, invoice):
        draft = draft_for_ticket(kb, ticket_id, embedder=None)
        assert draft is None or draft.generator != "incident"
        assert kb.execute("select count(*) from ticket_incidents where ticket_id = %s", (ticket_id,)).fetchone() == (0,)


def test_product_area_incident_and_closing_it(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    incident = open_incident(kb, product_area="telephony", title="SMS delays",
                             customer_message="Texts are delayed by up to 20 minutes; none are lost.")
    first = make_ticket("Our texts are going out really late today", tier=2, category="outage", product_area="telephony")
    draft = draft_for_ticket(kb, first, embedder=None)
    assert draft is not None and draft.incident_id == incident.incident_id
    closed = close_incident(kb, incident.incident_id)
    assert closed.ended_at is not None
    later = make_ticket("Texts are slow again", tier=2, category="outage", product_area="telephony")
    assert draft_for_ticket(kb, later, embedder=None) is None  # closed: no incident reply, tier 2: no KB draft
    with pytest.raises(LookupError):
        close_incident(kb, incident.incident_id)


def test_draft_commits_its_own_transaction_on_an_idle_connection(empty_database_url: str) -> None:
    """The drafting outbox calls draft_for_ticket on a connection with no open transaction and
    relies on the draft being committed when it returns."""
    from backend.db.schema import upgrade_database

    from .conftest import insert_ticket

    with psycopg.connect(empty_database_url, autocommit=True) as admin:
        upgrade_database(admin)
    with psycopg.connect(empty_database_url) as setup:
        open_incident(setup, product_area="telephony", title="SMS delays", customer_message="Texts are delayed.")
        ticket_id = insert_ticket(setup, "Texts are slow", tier=2, category="outage", product_area="telephony")
        setup.commit()
    with psycopg.connect(empty_database_url) as worker:
        draft = draft_for_ticket(worker, ticket_id, embedder=None)
        assert draft is not None
        assert worker.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with psycopg.connect(empty_database_url) as reader:
        row = reader.execute("select status, generator from drafts where draft_id = %s", (draft.draft_id,)).fetchone()
        assert row == ("pending", "incident")
