"""With a state file, contacts, organizations, identifiers and external sources survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_ops import Api, contact_op, email_id, ext_id, org_op

from pipeline.errors import ConfigError
from pipeline.sandbox import SandboxConfig, run_sandbox


def test_restart_with_state_keeps_everything(tmp_path: Path) -> None:
    """Records, their identifier claims, external sources and merge redirects come back after a restart."""
    config = SandboxConfig(state_path=tmp_path / "state" / "sandbox.db", rate_limit=0)
    with run_sandbox(config) as sb:
        api = Api(sb)
        source = api.post("externalsources", {"name": "CRM"}).json()
        org = api.post("organizations/enrich", org_op("O1")).json()
        ops = [contact_op(f"C{i}", externalOrganization={"id": org["id"]}) for i in range(12)]
        api.bulk("contacts", ops[:10])
        api.bulk("contacts", ops[10:])
        a, b = (api.post("identifierlookup/contacts", ext_id(k)).json()["id"] for k in ("C10", "C11"))
        merged = api.post("contacts/merge", {"contactIds": [a, b]}).json()
        api.post("contacts/enrich", contact_op("E1", workEmail="e1@example.com"))
        before = sb.store.all("contacts")
        api.close()

    with run_sandbox(config) as sb:
        api = Api(sb)
        assert sb.store.all("contacts") == before
        assert sb.store.count("organizations") == 1
        assert api.get(f"externalsources/{source['id']}").json() == source
        assert api.post("identifierlookup/contacts", email_id("e1@example.com")).status_code == 200
        assert api.post("identifierlookup/organizations", ext_id("O1")).json()["id"] == org["id"]
        assert api.get(f"contacts/{a}").json()["id"] == merged["id"]
        replay = api.bulk("contacts", ops[:10]).json()
        assert {r["status"] for r in replay["results"]} == {200}
        assert api.post("externalsources", {"name": "crm"}).status_code == 409
        scanned = api.get("scan/contacts", params={"limit": 200}).json()["entities"]
        assert [c["id"] for c in scanned] == [c["id"] for c in before]
        assert sb.store.count("contacts") == len(before)
        api.close()


def test_without_state_a_restart_starts_empty() -> None:
    """Without a state file the data lives only as long as the sandbox."""
    with run_sandbox(rate_limit=0) as sb:
        api = Api(sb)
        api.post("contacts/enrich", contact_op("C1"))
        api.close()
    with run_sandbox(rate_limit=0) as sb:
        assert sb.store.count("contacts") == 0
        assert sb.store.count("externalsources") == 1  # the demo source


def test_a_state_file_that_is_not_a_database_is_refused_naming_it(tmp_path: Path) -> None:
    """--sandbox-state pointing at some other file is a one-line configuration error, not a crash."""
    state = tmp_path / "notes.db"
    state.write_text("shopping list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notes\.db is not a usable sandbox state file"):
        run_sandbox(SandboxConfig(state_path=state)).__enter__()
    assert state.read_text(encoding="utf-8") == "shopping list\n", "the file was left as it was"
