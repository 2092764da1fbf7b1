"""Group an email's units into requests.

Input: the units of `backend.triage.units.split_units` and, per unit, the model's role,
category and product-area probabilities and its sentence embedding. Output: request segments
(which units form each request) plus the roles, so the caller can tell a bare "thanks" or a
status chaser from a request.

The rules, in order:

1. A unit is request material when the role head says `request` (asks for something or
   reports a problem). Everything else (greetings, background, details, chasers, supplied
   info, thanks) is attached to a neighbouring request as context or, if there is none,
   produces no request.
2. A request unit opens a new request when it is announced as separate (a list item, or a
   topic-shift cue such as "Also," / "Separately" / "P.S.") and is not about the same thing as
   the request before it (same category and area and similar wording). An unannounced new
   paragraph opens one only when it makes an explicit ask of its own (a question, "please",
   "can you" ... but not a generic "can someone take a look?" or "call me"), the request
   before it made one too, and the two differ in category and wording. Everything else
   continues the current request: background, impact ("this is costing us an hour a day"),
   details and a closing "please fix" belong to the request they describe, and two asks
   about the same thing are one request.
3. When the sender announces a count ("Two things:", "3 issues" in the subject) and the rules
   found fewer requests, the weakest boundaries that are announced or start a paragraph are
   split until the count is reached (never more).
4. Onboarding is one project: every onboarding part of an email is one request.

Follow-up filtering (replies with open requests) lives in `backend.triage.local`.
Pure computation; nothing here raises for the sender's input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from backend.triage.units import Unit, announced_count

__all__ = ["Segment", "Segmenter", "SegmenterConfig", "UnitView", "announced_count", "explicit_ask"]

_ASK = re.compile(
    r"\?|\b(please|pls|plz|can you|could you|would you|will you|"
    r"can (?:some|any)(?:one|body)|could (?:some|any)(?:one|body)|"
    r"can we|could we|can i|could i|is there (?:a|any)(?: \w+)? way|how (?:do|can|would|should) (?:i|we)|"
    r"where (?:do|can|would) (?:i|we)|what do (?:i|we|you) need|i(?:'d| would) like|we(?:'d| would) like|"
    r"i need|we need|need (?:you|someone|somebody) to|i want|we want|let me know (?:if|how|when|whether|what)|"
    r"wondering|any (?:chance|plans?)|would it be possible|is it possible|"
    r"puede|pueden|podr[ií]an|c[oó]mo|favor)\b",
    re.IGNORECASE,
)
# Asks that add no topic of their own: they close whatever request they follow.
_GENERIC_ASK = re.compile(
    r"^\W*(?:(?:so )?(?:can|could|would|will) (?:some(?:one|body)|you(?: guys)?|any(?:one|body)|you all) "
    r"(?:please )?(?:take a look|look into (?:it|this|that)|look at (?:it|this|that)|"
    r"check (?:it|this|on this|into this)|"
    r"help|fix (?:it|this|that)|find out why|figure (?:it|this) out|call me|get back to me)|"
    r"please (?:help|advise|fix (?:it|this|that)|fix(?:\W+(?:asap|now|today|immediately|quickly))?(?=\W*$)|"
    r"look into (?:it|this)|check|call(?: me)?|get back to me|"
    r"treat (?:this|it) as|log (?:it|this)|pass (?:it|this|that) along|let me know|confirm)|"
    r"call me|let me know|(?:please )?get back to me|any (?:help|ideas|thoughts)|thanks?|thank you|help)\b",
    re.IGNORECASE,
)


def explicit_ask(text: str) -> bool:
    """Does the text ask for something specific (not only "can someone take a look?")?"""
    from backend.triage.units import split_sentences

    return any(_ASK.search(sentence) and not _GENERIC_ASK.match(sentence) for sentence in split_sentences(text))


@dataclass(frozen=True)
class SegmenterConfig:
    request_threshold: float = 0.5  # P(role == request) for a unit to count as request material
    # Announced units (cue / list item) with the same category and area are the same topic when
    # their embeddings are at least this similar ...
    same_topic_similarity_cue: float = 0.55
    same_topic_similarity_list: float = 0.7
    # ... and an unannounced paragraph with its own ask opens a new request only below this.
    new_topic_similarity_paragraph: float = 0.45
    merge_categories: tuple[str, ...] = ("onboarding",)  # one project, one request


@dataclass
class UnitView:
    unit: Unit
    role: str
    request_probability: float
    category_proba: NDArray[np.float64]
    area_proba: NDArray[np.float64]
    embedding: NDArray[np.float32]
    has_ask: bool = False


@dataclass
class Segment:
    request_units: list[int] = field(default_factory=list)
    context_units: list[int] = field(default_factory=list)
    opened_by: str = "first"  # how it started: "first", "cue", "list", "paragraph"
    opening_cue: str | None = None

    @property
    def units(self) -> list[int]:
        return sorted(self.request_units + self.context_units)


def _mean(vectors: list[NDArray[np.float64]] | list[NDArray[np.float32]]) -> NDArray[np.float64]:
    stacked = np.stack(vectors).astype(np.float64)
    return np.asarray(stacked.mean(axis=0), dtype=np.float64)


def _cosine(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator else 0.0


class Segmenter:
    def __init__(self, categories: list[str], areas: list[str], config: SegmenterConfig | None = None) -> None:
        self.categories = categories
        self.areas = areas
        self.config = config or SegmenterConfig()

    def _labels(self, views: list[UnitView], indices: list[int]) -> tuple[str, str]:
        category = self.categories[int(_mean([views[i].category_proba for i in indices]).argmax())]
        area = self.areas[int(_mean([views[i].area_proba for i in indices]).argmax())]
        return category, area

    def _similarity(self, views: list[UnitView], segment: Segment, index: int) -> float:
        return _cosine(_mean([views[i].embedding for i in segment.request_units]),
                       views[index].embedding.astype(np.float64))

    def _opens_new(self, views: list[UnitView], segment: Segment, index: int, announcement: str | None) -> bool:
        config = self.config
        current_category, current_area = self._labels(views, segment.request_units)
        unit_category, unit_area = self._labels(views, [index])
        if current_category == unit_category and unit_category in config.merge_categories:
            return False
        similarity = self._similarity(views, segment, index)
        labels_agree = current_category == unit_category and current_area == unit_area
        if announcement == "cue":
            return not (labels_agree and similarity >= config.same_topic_similarity_cue)
        if announcement == "list":
            return not (labels_agree and similarity >= config.same_topic_similarity_list)
        segment_asks = any(views[i].has_ask for i in segment.request_units)
        return (views[index].has_ask and segment_asks and not labels_agree
                and similarity < config.new_topic_similarity_paragraph)

    def segment(self, views: list[UnitView], announced: int | None = None) -> list[Segment]:
        config = self.config
        segments: list[Segment] = []
        pending: list[int] = []  # context seen since the last request unit
        pending_announcement: str | None = None  # a non-request list item / cue ("2. New line.")
        pending_cue: str | None = None
        candidates: list[tuple[int, int]] = []  # (segment index, unit index) of boundaries not taken
        for index, view in enumerate(views):
            unit = view.unit
            is_request = view.request_probability >= config.request_threshold
            if not is_request:
                if unit.cue or unit.list_item:
                    pending_announcement = "cue" if unit.cue else "list"
                    pending_cue = unit.cue
                pending.append(index)
                continue
            announcement = "cue" if unit.cue else "list" if unit.list_item else pending_announcement
            cue = unit.cue or pending_cue
            if not segments:
                segments.append(Segment(request_units=[index], context_units=list(pending), opened_by="first"))
            else:
                current = segments[-1]
                if announcement is not None or unit.starts_paragraph:
                    new = self._opens_new(views, current, index, announcement)
                else:
                    new = False
                if new:
                    # Context right before an announced request belongs to it; an unannounced
                    # paragraph split leaves earlier context with the request it followed.
                    carried = list(pending) if announcement else []
                    current.context_units.extend(i for i in pending if i not in carried)
                    segments.append(Segment(request_units=[index], context_units=carried,
                                            opened_by=announcement or "paragraph", opening_cue=cue))
                else:
                    if announcement is not None or unit.starts_paragraph:
                        candidates.append((len(segments) - 1, index))
                    current.request_units.append(index)
                    current.context_units.extend(pending)
            pending = []
            pending_announcement = None
            pending_cue = None
        if segments and pending:
            segments[-1].context_units.extend(pending)
        if announced is not None and len(segments) < announced:
            segments = self._split_to_count(views, segments, candidates, announced)
        return self._merge_projects(views, segments)

    def _split_to_count(self, views: list[UnitView], segments: list[Segment], candidates: list[tuple[int, int]],
                        count: int) -> list[Segment]:
        """Split at the boundaries least like the request they joined until `count` requests exist."""
        scored = []
        for _, index in candidates:
            owner = next(s for s in segments if index in s.request_units)
            before = [i for i in owner.request_units if i < index]
            if not before:
                continue
            similarity = _cosine(_mean([views[i].embedding for i in before]), views[index].embedding.astype(np.float64))
            scored.append((similarity, index))
        for _, index in sorted(scored)[: max(0, count - len(segments))]:
            owner = next(s for s in segments if index in s.request_units)
            position = segments.index(owner)
            head = Segment(request_units=[i for i in owner.request_units if i < index],
                           context_units=[i for i in owner.context_units if i < index],
                           opened_by=owner.opened_by, opening_cue=owner.opening_cue)
            tail = Segment(request_units=[i for i in owner.request_units if i >= index],
                           context_units=[i for i in owner.context_units if i > index],
                           opened_by="count")
            segments[position : position + 1] = [head, tail]
        return segments

    def _merge_projects(self, views: list[UnitView], segments: list[Segment]) -> list[Segment]:
        """Merge every segment of a merge category (onboarding) into its first one."""
        merged: list[Segment] = []
        by_category: dict[str, Segment] = {}
        for segment in segments:
            category, _ = self._labels(views, segment.request_units)
            if category in self.config.merge_categories and category in by_category:
                target = by_category[category]
                target.request_units.extend(segment.request_units)
                target.context_units.extend(segment.context_units)
                continue
            if category in self.config.merge_categories:
                by_category[category] = segment
            merged.append(segment)
        return merged
