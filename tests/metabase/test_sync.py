"""The sync against a stateful fake Metabase (HTTP level, `responses`), through metabase-api's client:
it creates everything on an empty Metabase, a re-run writes nothing, and every request it sends is an
operation of Metabase's OpenAPI description with a body that validates against it."""

from __future__ import annotations

from collections import Counter

import pytest

from backend.metabase.client import MetabaseError, MetabaseHttpClient
from backend.metabase.definitions import Definitions, load_definitions
from backend.metabase.sync import MetabaseSyncError, sync_dashboards
from tests.metabase.fake_server import BASE_URL, PASSWORD, SESSION_TOKEN, USERNAME, FakeMetabaseServer

DEFINITIONS = load_definitions()
CARDS = len(DEFINITIONS.cards())
DASHBOARDS = len(DEFINITIONS.dashboards)


def without_card(definitions: Definitions, dashboard_key: str, card_key: str) -> Definitions:
    dashboards = [
        dashboard.model_copy(update={"cards": [card for card in dashboard.cards if card.key != card_key]})
        if dashboard.key == dashboard_key
        else dashboard
        for dashboard in definitions.dashboards
    ]
    return definitions.model_copy(update={"dashboards": dashboards})


def with_card_sql(definitions: Definitions, dashboard_key: str, card_key: str, sql: str) -> Definitions:
    dashboards = []
    for dashboard in definitions.dashboards:
        if dashboard.key == dashboard_key:
            cards = [card.model_copy(update={"sql": sql}) if card.key == card_key else card for card in dashboard.cards]
            dashboard = dashboard.model_copy(update={"cards": cards})
        dashboards.append(dashboard)
    return definitions.model_copy(update={"dashboards": dashboards})


def test_first_sync_creates_collection_cards_and_dashboards(
    metabase: FakeMetabaseServer, client: MetabaseHttpClient
) -> None:
    records = sync_dashboards(client, DEFINITIONS)
    assert metabase.problems == []
    assert Counter((record.method, record.path) for record in records if record.is_write) == {
        ("POST", "/api/collection/"): 1,
        ("POST", "/api/card/"): CARDS,
        ("POST", "/api/dashboard/"): DASHBOARDS,
        ("PUT", "/api/dashboard/{id}"): DASHBOARDS,
    }
    state = metabase.state
    assert len(state.collections) == 1 and len(state.cards) == CARDS and len(state.dashboards) == DASHBOARDS
    collection_id = next(iter(state.collections))
    assert {card["collection_id"] for card in state.cards.values()} == {collection_id}
    for definition in DEFINITIONS.dashboards:
        dashboard = next(d for d in state.dashboards.values() if d["name"] == definition.name)
        placed = {state.cards[dashcard["card_id"]]["name"]: dashcard for dashcard in dashboard["dashcards"]}
        assert sorted(placed) == sorted(card.name for card in definition.cards)
        assert all(dashcard["id"] > 0 for dashcard in dashboard["dashcards"])
        filter_ids = {parameter["slug"]: parameter["id"] for parameter in dashboard["parameters"]}
        assert sorted(filter_ids) == sorted(definition.filters)
        for card in definition.cards:
            mappings = placed[card.name]["parameter_mappings"]
            assert sorted((m["parameter_id"], m["target"][1][1]) for m in mappings) == sorted(
                (filter_ids[name], name) for name in card.variables
            )
    # Every request carried the API key header (x-api-key).
    assert all(request.headers.get("x-api-key") for request in metabase.seen)


def test_the_native_query_of_a_card_is_what_the_definition_says(
    metabase: FakeMetabaseServer, client: MetabaseHttpClient
) -> None:
    sync_dashboards(client, DEFINITIONS)
    _, card = DEFINITIONS.cards()[0]
    stored = next(c for c in metabase.state.cards.values() if c["name"] == card.name)
    native = stored["dataset_query"]["native"]
    assert stored["dataset_query"]["type"] == "native" and stored["dataset_query"]["database"] == 1
    assert native["query"] == card.sql
    assert sorted(native["template-tags"]) == sorted(card.variables)
    assert stored["display"] == card.display


def test_a_second_sync_changes_nothing(metabase: FakeMetabaseServer, client: MetabaseHttpClient) -> None:
    sync_dashboards(client, DEFINITIONS)
    before = len(metabase.seen)
    records = sync_dashboards(client, DEFINITIONS)
    assert [record for record in records if record.is_write] == []
    assert all(request.method == "GET" for request in metabase.seen[before:])
    assert metabase.problems == []


def test_an_edited_card_is_updated_in_place(metabase: FakeMetabaseServer, client: MetabaseHttpClient) -> None:
    sync_dashboards(client, DEFINITIONS)
    original = DEFINITIONS.dashboards[0].cards[0]
    assert original.key == "requests"
    new_sql = original.sql.replace("coalesce(sum(requests), 0)", "coalesce(sum(requests), 0)::bigint")
    edited = with_card_sql(DEFINITIONS, "support-funnel", "requests", new_sql)
    records = sync_dashboards(client, edited)
    writes = [record for record in records if record.is_write]
    assert [(record.method, record.path) for record in writes] == [("PUT", "/api/card/{id}")]
    card = metabase.state.cards[writes[0].path_params["id"]]
    assert card["dataset_query"]["native"]["query"] == new_sql
    assert len(metabase.state.cards) == CARDS
    assert metabase.problems == []


def test_a_removed_card_is_archived_and_leaves_its_dashboard(
    metabase: FakeMetabaseServer, client: MetabaseHttpClient
) -> None:
    sync_dashboards(client, DEFINITIONS)
    trimmed = without_card(DEFINITIONS, "intake-health", "failed")
    records = sync_dashboards(client, trimmed)
    writes = [(record.method, record.path, record.body) for record in records if record.is_write]
    assert [(method, path) for method, path, _ in writes] == [("PUT", "/api/dashboard/{id}"), ("PUT", "/api/card/{id}")]
    assert writes[1][2] == {"archived": True}
    archived = [card for card in metabase.state.cards.values() if card["archived"]]
    assert [card["name"] for card in archived] == ["Failed emails"]
    intake = next(d for d in metabase.state.dashboards.values() if d["name"] == "Intake health")
    assert archived[0]["id"] not in {dashcard["card_id"] for dashcard in intake["dashcards"]}
    # Kept cards keep their dashcard ids (sent as existing ids, not negative new ones).
    assert all(dashcard["id"] > 0 for dashcard in writes[0][2]["dashcards"])
    assert metabase.problems == []
    assert [record for record in sync_dashboards(client, trimmed) if record.is_write] == []


def test_a_dashboard_rearranged_in_metabase_is_put_back(
    metabase: FakeMetabaseServer, client: MetabaseHttpClient
) -> None:
    sync_dashboards(client, DEFINITIONS)
    funnel = next(d for d in metabase.state.dashboards.values() if d["name"] == "Support funnel")
    funnel["dashcards"][0]["row"] = 40
    funnel["dashcards"].pop()  # someone removed a card by hand
    records = sync_dashboards(client, DEFINITIONS)
    assert [(record.method, record.path) for record in records if record.is_write] == [("PUT", "/api/dashboard/{id}")]
    assert len(funnel["dashcards"]) == len(DEFINITIONS.dashboards[0].cards)
    assert funnel["dashcards"][0]["row"] == DEFINITIONS.dashboards[0].cards[0].position.row


def test_a_renamed_collection_is_renamed_back(metabase: FakeMetabaseServer, client: MetabaseHttpClient) -> None:
    sync_dashboards(client, DEFINITIONS)
    collection = next(iter(metabase.state.collections.values()))
    collection["name"] = "renamed by hand"
    records = sync_dashboards(client, DEFINITIONS)
    assert [(record.method, record.path) for record in records if record.is_write] == [("PUT", "/api/collection/{id}")]
    assert collection["name"] == DEFINITIONS.collection.name


def test_a_metabase_without_the_database_is_refused(metabase: FakeMetabaseServer, client: MetabaseHttpClient) -> None:
    metabase.state.databases[0]["name"] = "some other database"
    with pytest.raises(MetabaseSyncError, match="no database named 'tier0'"):
        sync_dashboards(client, DEFINITIONS)
    assert metabase.writes() == []


def test_metabase_errors_raise(metabase: FakeMetabaseServer, client: MetabaseHttpClient) -> None:
    metabase.state.handle = lambda *args: (500, {"message": "boom"})  # type: ignore[method-assign]
    with pytest.raises(MetabaseError, match="500"):
        sync_dashboards(client, DEFINITIONS)


def test_a_wrong_api_key_is_refused_when_the_client_is_built(metabase: FakeMetabaseServer) -> None:
    with pytest.raises(ValueError, match="API key"):
        MetabaseHttpClient.connect(BASE_URL, api_key="wrong")


def test_dry_run_against_a_server_reads_but_never_writes(
    metabase: FakeMetabaseServer, client: MetabaseHttpClient
) -> None:
    records = sync_dashboards(client, DEFINITIONS, dry_run=True)
    assert metabase.writes() == []
    assert sum(record.is_write for record in records) == 1 + CARDS + 2 * DASHBOARDS


def test_a_card_whose_filters_change_also_changes_its_dashboards_mappings(
    metabase: FakeMetabaseServer, client: MetabaseHttpClient
) -> None:
    sync_dashboards(client, DEFINITIONS)
    edited = with_card_sql(
        DEFINITIONS, "support-funnel", "requests", "select count(*) as requests from rollup_ticket_facts\n"
    )
    records = sync_dashboards(client, edited)
    assert [(record.method, record.path) for record in records if record.is_write] == [
        ("PUT", "/api/card/{id}"),
        ("PUT", "/api/dashboard/{id}"),
    ]
    funnel = next(d for d in metabase.state.dashboards.values() if d["name"] == "Support funnel")
    dashboard_write = [record for record in records if record.is_write][-1]
    card_id = dashboard_write.body["dashcards"][0]["card_id"]
    placed = next(dashcard for dashcard in funnel["dashcards"] if dashcard["card_id"] == card_id)
    assert placed["parameter_mappings"] == []


def test_a_session_from_credentials_works_too(metabase: FakeMetabaseServer) -> None:
    client = MetabaseHttpClient.connect(BASE_URL, username=USERNAME, password=PASSWORD)
    sync_dashboards(client, DEFINITIONS)
    assert metabase.problems == []
    assert len(metabase.state.cards) == CARDS
    api_requests = [request for request in metabase.seen if request.path.rstrip("/") != "/api/session"]
    assert all(request.headers.get("x-metabase-session") == SESSION_TOKEN for request in api_requests)
    assert all("x-api-key" not in request.headers for request in api_requests)
