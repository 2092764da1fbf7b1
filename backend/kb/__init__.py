"""The knowledge base: import with versions, hybrid search that knows when nothing answers,
a regression check, and grounded reply drafts. See each module's docstring."""

from backend.kb.check import CheckResult, kb_check
from backend.kb.drafts import Draft, draft_for_ticket
from backend.kb.importer import ImportResult, import_kb
from backend.kb.search import SearchHit, SearchResult, search_kb, search_queries_json

__all__ = [
    "CheckResult",
    "Draft",
    "ImportResult",
    "SearchHit",
    "SearchResult",
    "draft_for_ticket",
    "import_kb",
    "kb_check",
    "search_kb",
    "search_queries_json",
]
