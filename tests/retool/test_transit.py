"""The transit-JSON codec against Retool's own exports (byte-identical round trip) and the format's
rules one by one: map keys and tags cached past 3 characters, two-digit cache codes, escapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.retool.transit import (
    ImmutableList,
    ImmutableMap,
    Instant,
    OrderedMap,
    Record,
    Tagged,
    TransitError,
    dumps,
    loads,
)


def _app_states(shared_dir: Path) -> list[tuple[str, str]]:
    states = []
    for path in sorted((shared_dir / "external" / "retool").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        states.append((path.name, document["page"]["data"]["appState"]))
        for name, module in document["modules"].items():
            states.append((f"{path.name}:{name}", module["data"]["appState"]))
    return states


def test_retools_exports_decode_and_encode_back_byte_for_byte(shared_dir: Path) -> None:
    states = _app_states(shared_dir)
    assert len(states) == 3  # two apps and the navigation module one of them uses
    for name, text in states:
        state = loads(text)
        assert isinstance(state, Record) and state.name == "appTemplate", name
        assert dumps(state) == text, name


def test_what_a_retool_export_decodes_to(shared_dir: Path) -> None:
    text = dict(_app_states(shared_dir))["incident-central-Report-Incident.json"]
    plugins = loads(text).fields["plugins"]
    assert isinstance(plugins, OrderedMap)
    button = plugins["slackChannelBtn"]
    assert (button.fields["type"], button.fields["subtype"]) == ("widget", "ButtonWidget2")
    assert button.fields["position2"] == Record(
        "position2",
        {
            "container": "resultContainer",
            "rowGroup": "body",
            "subcontainer": "",
            "row": 7.400000000000002,
            "col": 0,
            "height": 1.6,
            "width": 12,
            "tabNum": 0,
        },
    )
    handler = button.fields["template"]["events"][0]
    assert isinstance(button.fields["template"]["events"], ImmutableList)
    assert (handler["event"], handler["type"], handler["method"]) == ("click", "util", "openUrl")
    query = plugins["getPagerDutyServices"].fields
    assert (query["type"], query["subtype"], query["resourceDisplayName"]) == (
        "datasource",
        "RESTQuery",
        "PagerDuty API for Incident Central",
    )
    assert query["template"]["query"] == "services?sort_by=name&include%5B%5D=escalation_policies"
    assert query["createdAt"] == Instant(1637632516654)


def test_map_keys_longer_than_three_characters_and_tags_are_cached() -> None:
    value = [{"name": 1, "id": 2}, {"name": 3, "id": 4}, ImmutableList([1]), ImmutableList([2])]
    text = dumps(value)
    assert text == '[["^ ","name",1,"id",2],["^ ","^0",3,"id",4],["~#iL",[1]],["^1",[2]]]'
    assert loads(text) == value


def test_values_are_not_cached_and_special_strings_are_escaped() -> None:
    value = ["plain words", "plain words", "~tilde", "^caret", "`tick", "^ "]
    text = dumps(value)
    assert text == '["plain words","plain words","~~tilde","~^caret","~`tick","~^ "]'
    assert loads(text) == value


def test_cache_codes_take_two_digits_past_44_entries() -> None:
    keys = [f"key{number:03d}" for number in range(50)]
    value = [{key: index for index, key in enumerate(keys)}, {key: 0 for key in keys}]
    text = dumps(value)
    second = json.loads(text)[1]
    assert second[1] == "^0" and second[1 + 2 * 43] == "^" + chr(48 + 43)
    assert second[1 + 2 * 44] == "^10"  # index 44 = 1 * 44 + 0
    assert loads(text) == value


def test_records_ordered_maps_and_instants_round_trip() -> None:
    value = Record(
        "pluginTemplate",
        {
            "template": OrderedMap([("query", "select 1"), ("events", ImmutableList([OrderedMap([("a", 1)])]))]),
            "other": ImmutableMap([("x", None)]),
            "createdAt": Instant(1700000000000),
            "odd": Tagged("~#set", [1, 2]),
        },
    )
    decoded = loads(dumps(value))
    assert decoded == value
    assert type(decoded.fields["template"]) is OrderedMap and type(decoded.fields["other"]) is ImmutableMap


@pytest.mark.parametrize(
    "text",
    ['["^ ","a"]', '["^5",[]]', '["~#iR",["^ ","n","x"]]', '["~#iOM",[1]]', "{not json", '["^ ","^",1]'],
)
def test_malformed_transit_is_refused(text: str) -> None:
    with pytest.raises(TransitError):
        loads(text)
