"""The OpenAPI validator catches what Metabase would refuse (so the sync tests' "no problems" means
something), and accepts what it takes."""

from __future__ import annotations

from backend.metabase.openapi import OpenApiSpec

CARD = {"name": "x", "display": "table", "visualization_settings": {}, "dataset_query": {}}


def test_paths_are_matched_as_metabase_spells_them(openapi_spec: OpenApiSpec) -> None:
    assert openapi_spec.find("POST", "/api/card/").template == "/api/card/"  # type: ignore[union-attr]
    assert openapi_spec.find("PUT", "/api/dashboard/7").template == "/api/dashboard/{id}"  # type: ignore[union-attr]
    assert openapi_spec.find("GET", "/api/card/public").template == "/api/card/public"  # type: ignore[union-attr]
    assert openapi_spec.find("POST", "/api/dashboard/7/cards") is None  # removed from Metabase
    assert openapi_spec.validate_request("POST", "/api/card", CARD) != []  # no trailing slash: not an operation


def test_bodies_metabase_would_refuse_are_reported(openapi_spec: OpenApiSpec) -> None:
    assert openapi_spec.validate_request("POST", "/api/card/", CARD) == []
    missing = openapi_spec.validate_request("POST", "/api/card/", {"name": "x"})
    assert any("'display' is a required property" in problem for problem in missing)
    assert openapi_spec.validate_request("POST", "/api/card/", {**CARD, "collection_id": 0}) != []
    assert openapi_spec.validate_request("POST", "/api/card/", {**CARD, "type": "report"}) != []
    dashcard = {"id": -1, "card_id": 3, "row": 0, "col": 0, "size_x": 0, "size_y": 2}
    assert any(
        "size_x" in problem
        for problem in openapi_spec.validate_request("PUT", "/api/dashboard/3", {"dashcards": [dashcard]})
    )
    assert openapi_spec.validate_request("PUT", "/api/dashboard/3", {"dashcards": [{**dashcard, "size_x": 4}]}) == []
    assert openapi_spec.validate_request("POST", "/api/collection/", {}) != []
    assert openapi_spec.validate_request("GET", "/api/collection/", {"unexpected": "body"}) != []


def test_template_tags_are_checked_against_the_component_schema(openapi_spec: OpenApiSpec) -> None:
    tag = {"id": "6f1c0f52-52a4-4c55-9a35-0b1f7e0a7a10", "name": "account", "display-name": "Account", "type": "text"}
    name = "metabase.legacy-mbql.schema.TemplateTagMap"
    assert openapi_spec.validate_component(name, {"account": tag}) == []
    assert (
        openapi_spec.validate_component(name, {"account": {k: v for k, v in tag.items() if k != "display-name"}}) != []
    )
    assert openapi_spec.validate_component(name, {"account": {**tag, "type": "colour"}}) != []
    assert openapi_spec.validate_component("no.such.schema", {}) == ["no component schema no.such.schema"]
