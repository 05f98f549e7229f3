"""``POST .../contacts/merge``: several contacts become one new contact."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from pipeline.sandbox import enrich as core
from pipeline.sandbox.handlers import Handler, Reply, api, json_body, new_id, now_iso
from pipeline.sandbox.problems import bad_request
from pipeline.sandbox.records import API, CONTACT
from pipeline.sandbox.state import SandboxState
from pipeline.sandbox.store import Store
from pipeline.sandbox.views import view


def routes(state: SandboxState) -> list[Route]:
    return [Route(f"{API}/contacts/merge", merge(state.store), methods=["POST"])]


def merge(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad_request("The body must be {contactIds, valueOverride}")
        with store.transaction():
            outcome = core.merge(
                store, body.get("contactIds"), body.get("valueOverride"), now=now_iso(), new_id=new_id
            )
            store.apply(outcome)
        return 200, view(store, CONTACT, outcome.record)

    return handler
