"""A Metabase that keeps collections, cards and dashboards in memory, answering the REST calls the
sync makes the way Metabase does (ids assigned on create, `GET /api/collection/:id/items` listing,
`PUT /api/dashboard/:id` replacing the whole `dashcards` list: negative ids are new dashcards, ids left
out are deleted).

It is the "empty Metabase" of `tier0 metabase sync --dry-run` (only the tier0 database is connected),
and the state behind the tests' HTTP-level fake. A request it does not know answers 404; a body missing
what Metabase requires answers 400, like the server.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from backend.metabase.client import MetabaseError

_ID = r"(\d+)"


class InMemoryMetabase:
    def __init__(self, databases: list[dict[str, Any]] | None = None) -> None:
        self.databases = databases if databases is not None else [{"id": 1, "name": "tier0", "engine": "postgres"}]
        self.collections: dict[int, dict[str, Any]] = {}
        self.cards: dict[int, dict[str, Any]] = {}
        self.dashboards: dict[int, dict[str, Any]] = {}
        self._next_id = {"collection": 1, "card": 1, "dashboard": 1, "dashcard": 1}

    # --- MetabaseClient -----------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        status, answer = self.handle(method, path, params or {}, body)
        if status >= 400:
            raise MetabaseError(method.upper(), path, status, str(answer))
        return answer

    # --- routing ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: Mapping[str, Any], body: Any) -> tuple[int, Any]:
        method = method.upper()
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"/api/database/", self._list_databases),
            ("GET", r"/api/collection/", self._list_collections),
            ("POST", r"/api/collection/", self._create_collection),
            ("PUT", rf"/api/collection/{_ID}", self._update_collection),
            ("GET", rf"/api/collection/{_ID}/items", self._collection_items),
            ("POST", r"/api/card/", self._create_card),
            ("GET", rf"/api/card/{_ID}", self._get_card),
            ("PUT", rf"/api/card/{_ID}", self._update_card),
            ("POST", r"/api/dashboard/", self._create_dashboard),
            ("GET", rf"/api/dashboard/{_ID}", self._get_dashboard),
            ("PUT", rf"/api/dashboard/{_ID}", self._update_dashboard),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return handler(params, copy.deepcopy(body), *(int(group) for group in match.groups()))
        return 404, {"message": f"no route {method} {path}"}

    def _new_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] += 1
        return value

    # --- databases and collections ----------------------------------------------------------------

    def _list_databases(self, params: Mapping[str, Any], body: Any) -> tuple[int, Any]:
        return 200, {"data": copy.deepcopy(self.databases), "total": len(self.databases)}

    def _list_collections(self, params: Mapping[str, Any], body: Any) -> tuple[int, Any]:
        archived = str(params.get("archived", "false")).lower() == "true"
        found = [c for c in self.collections.values() if c["archived"] == archived]
        return 200, copy.deepcopy(found)

    def _create_collection(self, params: Mapping[str, Any], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("name"):
            return 400, {"errors": {"name": "value must be a non-blank string."}}
        collection_id = self._new_id("collection")
        self.collections[collection_id] = {
            "id": collection_id,
            "name": body["name"],
            "description": body.get("description"),
            "archived": False,
            "location": "/",
            "parent_id": body.get("parent_id"),
        }
        return 200, copy.deepcopy(self.collections[collection_id])

    def _update_collection(self, params: Mapping[str, Any], body: Any, collection_id: int) -> tuple[int, Any]:
        if collection_id not in self.collections:
            return 404, "Not found."
        self.collections[collection_id].update(body or {})
        return 200, copy.deepcopy(self.collections[collection_id])

    def _collection_items(self, params: Mapping[str, Any], body: Any, collection_id: int) -> tuple[int, Any]:
        if collection_id not in self.collections:
            return 404, "Not found."
        models = params.get("models") or ["card", "dashboard"]
        models = [models] if isinstance(models, str) else list(models)
        archived = str(params.get("archived", "false")).lower() == "true"
        items = []
        for model, store in (("card", self.cards), ("dashboard", self.dashboards)):
            if model not in models:
                continue
            for item in store.values():
                if item["collection_id"] == collection_id and item["archived"] == archived:
                    items.append(
                        {"id": item["id"], "model": model, "name": item["name"], "description": item.get("description")}
                    )
        return 200, {"data": items, "total": len(items), "models": models}

    # --- cards -------------------------------------------------------------------------------------

    def _create_card(self, params: Mapping[str, Any], body: Any) -> tuple[int, Any]:
        required = ("name", "dataset_query", "display", "visualization_settings")
        missing = [key for key in required if not isinstance(body, dict) or key not in body]
        if missing:
            return 400, {"errors": {key: "required" for key in missing}}
        card_id = self._new_id("card")
        self.cards[card_id] = {**body, "id": card_id, "archived": False, "collection_id": body.get("collection_id")}
        return 200, copy.deepcopy(self.cards[card_id])

    def _get_card(self, params: Mapping[str, Any], body: Any, card_id: int) -> tuple[int, Any]:
        if card_id not in self.cards:
            return 404, "Not found."
        return 200, copy.deepcopy(self.cards[card_id])

    def _update_card(self, params: Mapping[str, Any], body: Any, card_id: int) -> tuple[int, Any]:
        if card_id not in self.cards:
            return 404, "Not found."
        self.cards[card_id].update(body or {})
        return 200, copy.deepcopy(self.cards[card_id])

    # --- dashboards --------------------------------------------------------------------------------

    def _create_dashboard(self, params: Mapping[str, Any], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("name"):
            return 400, {"errors": {"name": "value must be a non-blank string."}}
        dashboard_id = self._new_id("dashboard")
        self.dashboards[dashboard_id] = {
            "id": dashboard_id,
            "name": body["name"],
            "description": body.get("description"),
            "collection_id": body.get("collection_id"),
            "parameters": body.get("parameters") or [],
            "dashcards": [],
            "archived": False,
        }
        return 200, copy.deepcopy(self.dashboards[dashboard_id])

    def _get_dashboard(self, params: Mapping[str, Any], body: Any, dashboard_id: int) -> tuple[int, Any]:
        if dashboard_id not in self.dashboards:
            return 404, "Not found."
        return 200, copy.deepcopy(self.dashboards[dashboard_id])

    def _update_dashboard(self, params: Mapping[str, Any], body: Any, dashboard_id: int) -> tuple[int, Any]:
        if dashboard_id not in self.dashboards:
            return 404, "Not found."
        dashboard = self.dashboards[dashboard_id]
        body = dict(body or {})
        if "dashcards" in body:
            current = {dashcard["id"] for dashcard in dashboard["dashcards"]}
            updated = []
            for dashcard in body.pop("dashcards"):
                if dashcard.get("card_id") not in self.cards:
                    return 400, {"message": f"card {dashcard.get('card_id')} does not exist"}
                if dashcard["id"] < 0:
                    dashcard = {**dashcard, "id": self._new_id("dashcard")}
                elif dashcard["id"] not in current:
                    return 400, {"message": f"dashcard {dashcard['id']} is not on dashboard {dashboard_id}"}
                dashcard["dashboard_id"] = dashboard_id
                updated.append(dashcard)
            dashboard["dashcards"] = updated
        dashboard.update(body)
        return 200, copy.deepcopy(dashboard)
