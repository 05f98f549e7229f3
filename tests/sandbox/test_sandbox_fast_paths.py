"""The sandbox's speed-ups change nothing a client sees: the HTTP parser it is served with, the JSON
library that reads requests and writes answers, the records it keeps without copying, and combining
new records without walking the field rules."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_ops import Api, contact_op, email_id, org_op
from starlette.responses import JSONResponse

from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox, server
from pipeline.sandbox.fieldrules import ACTIONS, ARRAY_ACTIONS, FieldRules, combine, merged
from pipeline.sandbox.handlers import FastJSONResponse, parse_json
from pipeline.sandbox.records import CONTACT, NESTED, ORGANIZATION, Kind

HAS_HTTPTOOLS = importlib.util.find_spec("httptools") is not None


def _bulk_round_trip(sb: Sandbox) -> dict[str, Any]:
    """One bulk enrich of two contacts over real HTTP; returns the answer."""
    api = Api(sb)
    try:
        ops = [contact_op("C-1", firstName="Zoë"), contact_op("C-2", workPhone={"display": "(408) 725-5017"})]
        response = api.request("POST", "bulk/contacts/enrich", json={"entities": ops})
        assert response.status_code == 200
        return response.json()
    finally:
        api.close()


def test_the_sandbox_falls_back_to_h11_when_httptools_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without httptools the sandbox is served by h11 and still answers a bulk enrich and stores it."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        server.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "httptools" else real_find_spec(name, *a),
    )
    assert server.http_implementation() == "h11"
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        answer = _bulk_round_trip(sb)
        stored = {c["firstName"] for c in sb.store.all("contacts") if c.get("firstName")}
    assert answer["errorCount"] == 0
    assert stored == {"Zoë"}


@pytest.mark.skipif(not HAS_HTTPTOOLS, reason="httptools is not installed")
def test_the_sandbox_is_served_by_httptools_when_it_is_installed(sb: Sandbox) -> None:
    """With httptools installed it is the parser, and a bulk enrich is answered and stored as with h11."""
    assert server.http_implementation() == "httptools"
    answer = _bulk_round_trip(sb)
    assert answer["errorCount"] == 0
    phones = [c["workPhone"]["e164"] for c in sb.store.all("contacts") if c.get("workPhone")]
    assert phones == ["+14087255017"]


def test_answers_are_written_byte_for_byte_as_starlettes_json_response_writes_them() -> None:
    """orjson's answer bytes equal json.dumps's compact UTF-8 for the values records hold."""
    content = {
        "name": 'Zoë 北京 \u2028 "quoted" \\ <tag>',
        "n": [0, -1, 2**63 - 1, 1.5, 0.1, True, False, None],
        "nested": {"a": [], "b": {}, "c": [{"d": "é"}]},
    }
    assert FastJSONResponse(content).body == JSONResponse(content).body


def test_a_request_body_is_read_as_json_loads_reads_it() -> None:
    """What orjson refuses but json.loads reads (a 65-bit integer, a lone surrogate) still reads the same."""
    raw = b'{"big": 36893488147419103232, "odd": "\\ud800", "plain": [1, "x"]}'
    assert parse_json(raw) == json.loads(raw)


def test_an_integer_beyond_64_bits_is_refused_as_a_value_not_as_broken_json(api: Api) -> None:
    """A revenue of 2**64 reaches validation and is an invalid value there, as before orjson."""
    op = org_op("A-1", revenue=2**64)
    response = api.request("POST", "bulk/organizations/enrich", json={"entities": [op]})
    result = response.json()["results"][0]
    assert response.status_code == 200
    assert result["success"] is False
    assert result["error"]["details"][0]["fieldName"] == "externalOrganization.revenue"
    assert api.sb.store.count("organizations") == 0


def test_nan_in_a_request_body_is_refused_as_invalid_json(api: Api) -> None:
    """NaN is not JSON: the request is refused with 400 before anything is stored."""
    body = b'{"entities": [{"action": "Upsert", "contact": {"firstName": NaN}}]}'
    response = api.request(
        "POST", "bulk/contacts/enrich", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert api.sb.store.count("contacts") == 0


def test_a_claim_taken_by_another_contact_leaves_the_first_one_whole_but_for_that_claim(api: Api) -> None:
    """The contact that loses an email claim is stored anew without it; its fields and other claims stay."""
    enrich = "bulk/contacts/enrich"
    first = api.request(
        "POST", enrich, json={"entities": [contact_op("C-1", firstName="Ann", workEmail="a@example.com")]}
    ).json()["results"][0]["entity"]
    answer = api.request("POST", enrich, json={"entities": [contact_op("C-2")]})
    second = answer.json()["results"][0]["entity"]
    claimed = api.request(
        "PATCH",
        f"contacts/{second['id']}/identifiers",
        json={"operation": "Claim", "identifier": email_id("a@example.com")},
    )
    assert claimed.status_code == 200
    stored = {c["id"]: c for c in api.sb.store.all("contacts")}
    assert {i["type"] for i in stored[first["id"]]["identifiers"]} == {"ExternalId"}
    assert {i["type"] for i in stored[second["id"]]["identifiers"]} == {"ExternalId", "Email"}
    assert (stored[first["id"]]["firstName"], stored[first["id"]]["workEmail"]) == ("Ann", "a@example.com")


_VALUES = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.integers(),
    st.booleans(),
    st.dictionaries(st.sampled_from(["city", "state", "x"]), st.one_of(st.none(), st.text(max_size=2))),
    st.lists(st.one_of(st.text(max_size=2), st.dictionaries(st.just("k"), st.text(max_size=2))), max_size=12),
)


@st.composite
def _rules(draw: st.DrawFn, kind: Kind) -> FieldRules:
    paths = [f"$.{name}" for name in kind.fields] + ["$.address.city", "$.customFields.x"]
    rules = draw(
        st.dictionaries(
            st.sampled_from(paths),
            st.tuples(st.sampled_from([None, *ACTIONS]), st.sampled_from([None, *ARRAY_ACTIONS])),
            max_size=4,
        )
    )
    return FieldRules(draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(ARRAY_ACTIONS)), rules)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_combining_into_no_record_equals_combining_by_each_rule(data: st.DataObject) -> None:
    """With nothing stored, the shortcut gives what every field rule gives value by value, for any
    provided data (nulls, empty and over-long arrays, objects with null members) and any rules."""
    kind = data.draw(st.sampled_from([CONTACT, ORGANIZATION]))
    provided = data.draw(st.dictionaries(st.sampled_from(kind.fields), _VALUES))
    for name in NESTED:  # objects are objects once validated
        if name in provided and not isinstance(provided[name], dict):
            provided[name] = {}
    for name in kind.arrays:  # so are arrays
        if name in provided and not isinstance(provided[name], list | type(None)):
            provided[name] = []
    rules = data.draw(_rules(kind))
    assert combine(kind, None, provided, rules) == merged(kind, None, provided, rules)
    assert combine(kind, {}, provided, rules) == merged(kind, {}, provided, rules)
