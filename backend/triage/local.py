"""The local classifier: segmentation + classification with no network.

`LocalClassifier.triage(email)`:

1. cuts the email's new text into units (`units.split_units`);
2. asks the model, per unit, what it is (request / context / chaser / info / thanks) and what
   it is about (category, product area), and groups request units into requests
   (`segment.Segmenter`);
3. for a reply with open requests, drops requests that continue one of them (same topic,
   no "separate/unrelated/also" announcement): a chaser, supplied details or a confirmed fix
   yield nothing; a new, unrelated ask becomes a request;
4. classifies each request on its own text (subject added when the email holds one request),
   reads signals, integration and sentiment from its words (`signals`), and picks a one-line
   extractive summary (a sentence of the request, never generated text).

A request whose category confidence is below the policy's `triage.min_confidence` is flagged
`needs_review` (the policy step routes it to the abstain route); its labels stay the model's
best guess so a human sees the suggestion. Labels always come from the policy's taxonomy.

Failures: none for the sender's input (an empty text gives an empty triage). A missing or
broken model is ours and raises from `backend.triage.model`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from backend.policy.model import Policy, load_policy
from backend.triage.model import TriageModel, default_model
from backend.triage.segment import Segment, Segmenter, SegmenterConfig, UnitView, announced_count, explicit_ask
from backend.triage.signals import IntegrationMatcher, detect_signals, has_gratitude, sentiment
from backend.triage.types import EmailForTriage, EmailTriage, ExistingRequest, RequestTriage
from backend.triage.units import Unit, split_sentences, split_units, strip_list_marker

# Cues that announce a new topic even inside a reply ("Different thing while I have you").
_NEW_TOPIC_IN_REPLY = re.compile(
    r"^(also|additionally|separately|separate|on an?\b.*note|on another note|different|unrelated|not related|"
    r"totally different|completely different|while i have you|while you're|since i have you|one more|another|"
    r"other|last|final|second|third|next|and one|and another|oh|by the way|btw|p\.? ?s|in other news|"
    r"otra cosa|otro tema|aparte|adem|tambi|before i forget|and i wanted|plus|"
    r"(?:a |one |my |our )?(?:follow-?up|related|new|quick|separate|other|different) (?:quick )?question)",
    re.IGNORECASE,
)
# Units that are plainly not requests whatever their words: status chasers in a reply, and
# supplied data ("Here are three from this week: ...").
_CHASER = re.compile(
    r"^\W*(?:\w+,\s*)?(?:hi\W+\w+\W+)?(any (?:update|news|word|progress|eta)|"
    r"(?:just )?(?:following|checking) (?:up|in)|(?:haven't|have not|never) heard (?:back|anything)|"
    r"still (?:waiting|no (?:word|update|fix|response))|bump(?:ing)?\b|"
    r"what(?:'s| is) the (?:status|eta|update)|where (?:are|do) we stand|is (?:any|some)one (?:looking|working) on)",
    re.IGNORECASE,
)
_SUPPLIED_INFO = re.compile(
    r"^\W*(?:\w+,\s*)?(here (?:are|is|'s|you go)|attached (?:are|is)|below (?:are|is)|as (?:you )?requested|"
    r"per your (?:request|email|note)|you asked (?:for|about)|to answer your question|the (?:app )?version is|"
    r"(?:yes|no|correct),? (?:it|that|we|the)\b)",
    re.IGNORECASE,
)
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|tr|rv)\s*:\s*)+", re.IGNORECASE)
_TICKET_TAG = re.compile(r"\[[^\]]*#\s*\d+\]")
_GENERIC_ASK = re.compile(
    r"^(can|could|would|will) (some(?:one|body)|you(?: guys)?|anyone) (please )?(take a look|look into (it|this)|"
    r"check|help|look at (it|this)|fix (it|this))|^please (help|advise|fix|look into|check)|^thanks|^thank you",
    re.IGNORECASE,
)
_SUMMARY_MAX = 200


@dataclass(frozen=True)
class LocalClassifierConfig:
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    # A request in a reply continues an open request when it has the same category and its text
    # is at least this similar to the open request's summary, or, whatever its category, when
    # it is at least `followup_similarity_any` similar.
    followup_similarity_same_category: float = 0.3
    followup_similarity_any: float = 0.55
    use_subject_for_single_request: bool = True
    # Share of a request's label probabilities that comes from its sentences (weighted by how
    # request-like each is) rather than from the request's whole text.
    sentence_weight: float = 0.5
    # Joint decoding of (category, product area): the pair maximising
    # log P(category) + log P(area) + pair_prior_weight * PMI(category, area), where the PMI comes from
    # how often the two labels go together in the training requests (0 = independent argmaxes).
    pair_prior_weight: float = 0.0
    # Share of the label probabilities that comes from the request's wider text: its context units
    # and the subject of a new email (0 = the request's own units only).
    context_weight: float = 0.0
    # Route-aware decoding: first the route with the most probability mass (summed over the
    # (category, area) pairs the policy sends there), then the best pair within that route.
    route_decoding: bool = False


def clean_subject(subject: str) -> str:
    return _TICKET_TAG.sub("", _SUBJECT_PREFIX.sub("", subject or "")).strip()


def _is_count_intro(text: str) -> bool:
    """A short line that only announces how many things follow ("Two things.", "3 questions:")."""
    return announced_count([text]) is not None and len(text.split()) <= 12 and "?" not in text


def _aligned(proba: NDArray[np.float64], model_labels: Sequence[str], policy_labels: Sequence[str]
             ) -> NDArray[np.float64]:
    """Reorder a head's probability columns into the policy's label order (missing labels get 0)."""
    aligned = np.zeros((proba.shape[0], len(policy_labels)))
    position = {label: column for column, label in enumerate(model_labels)}
    for target, label in enumerate(policy_labels):
        if label in position:
            aligned[:, target] = proba[:, position[label]]
    return aligned


def _trim(sentence: str, limit: int = _SUMMARY_MAX) -> str:
    sentence = re.sub(r"\s+", " ", sentence).strip()
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"


def _pair_pmi(counts: dict[tuple[str, str], float], categories: Sequence[str], areas: Sequence[str],
              smoothing: float = 1.0) -> NDArray[np.float64]:
    """Pointwise mutual information of (category, area) in the training requests, add-one smoothed:
    positive for pairs that go together (billing/billing), negative for rare ones (billing/mobile)."""
    table = np.full((len(categories), len(areas)), smoothing, dtype=np.float64)
    for (category, area), count in counts.items():
        if category in categories and area in areas:
            table[categories.index(category), areas.index(area)] += count
    joint = table / table.sum()
    marginal_category = joint.sum(axis=1, keepdims=True)
    marginal_area = joint.sum(axis=0, keepdims=True)
    pmi: NDArray[np.float64] = np.log(joint) - np.log(marginal_category) - np.log(marginal_area)
    return pmi


def _route_table(policy: Policy, categories: Sequence[str], areas: Sequence[str]) -> NDArray[np.str_]:
    """The route the policy gives each (category, area) at the category's default priority."""
    table = np.empty((len(categories), len(areas)), dtype=object)
    for i, category in enumerate(categories):
        rule = policy.categories[category]
        for j, area in enumerate(areas):
            tier = rule.tier_by_product_area.get(area, rule.default_tier)
            routing = policy.tier_routes[tier]
            table[i, j] = routing.by_product_area.get(area, routing.default)
    return table.astype(str)


class LocalClassifier:
    """`Classifier` implementation backed by the local model (see the module docstring)."""

    name = "local"

    def __init__(self, model: TriageModel | None = None, policy: Policy | None = None,
                 config: LocalClassifierConfig | None = None, min_confidence: float | None = None) -> None:
        self.model = model or default_model()
        self.policy = policy or load_policy()
        self.config = config or LocalClassifierConfig()
        self.categories = self.policy.category_names
        self.areas = self.policy.product_area_names
        self.min_confidence = self.policy.triage.min_confidence if min_confidence is None else min_confidence
        self.integrations = IntegrationMatcher.from_aliases(
            {name: rule.aliases for name, rule in self.policy.integrations.items()})
        self.segmenter = Segmenter(self.categories, self.areas, self.config.segmenter)
        self.model_version = self.model.version
        self.pair_pmi = _pair_pmi(getattr(self.model, "pair_counts", {}), self.categories, self.areas)
        self.route_table = _route_table(self.policy, self.categories, self.areas)

    # --- model calls -------------------------------------------------------------------

    def _unit_views(self, units: list[Unit], *, is_reply: bool, has_open_requests: bool) -> list[UnitView]:
        texts = [strip_list_marker(unit.text) or unit.text for unit in units]
        embeddings = self.model.embed(texts)
        roles = self.model.predict("role", texts, embeddings)
        categories = self.model.predict("category", texts, embeddings)
        areas = self.model.predict("product_area", texts, embeddings)
        category_proba = _aligned(categories.proba, categories.labels, self.categories)
        area_proba = _aligned(areas.proba, areas.labels, self.areas)
        request_column = roles.labels.index("request")
        chaser_column = roles.labels.index("chaser") if "chaser" in roles.labels else None
        views = []
        for row, unit in enumerate(units):
            role = roles.labels[int(roles.proba[row].argmax())]
            request_probability = float(roles.proba[row, request_column])
            if not is_reply and chaser_column is not None:
                # A new email has nothing to chase: "it's still stuck at Processing" there reports a
                # problem, so the chaser share counts as request.
                request_probability += float(roles.proba[row, chaser_column])
                if role == "chaser":
                    role = "request" if request_probability >= 0.5 else "context"
            if is_reply and has_open_requests and unit.section == "quoted":
                # History the reply quotes (text_for_triage adds it under short replies): the open
                # requests already cover it.
                role, request_probability = "context", 0.0
            elif is_reply and _CHASER.match(texts[row]):
                role, request_probability = "chaser", 0.0
            elif _SUPPLIED_INFO.match(texts[row]):
                role, request_probability = "info", 0.0
            elif _is_count_intro(texts[row]):
                # "Two changes please:" announces the requests that follow; it is not one itself.
                role, request_probability = "context", 0.0
            views.append(UnitView(
                unit=unit,
                role=role,
                request_probability=request_probability,
                category_proba=category_proba[row],
                area_proba=area_proba[row],
                embedding=embeddings[row],
                has_ask=explicit_ask(texts[row]),
            ))
        return views

    # --- triage ------------------------------------------------------------------------

    def triage(self, email: EmailForTriage) -> EmailTriage:
        split = split_units(email.text)
        units = split.units
        if not units:
            return EmailTriage(requests=[], gratitude_only=has_gratitude(email.text),
                               classifier=self.name, model_version=self.model_version)
        views = self._unit_views(units, is_reply=email.is_reply, has_open_requests=bool(email.existing_requests))
        count = announced_count([email.subject, split.greeting, *(unit.text for unit in units[:2])])
        segments = self.segmenter.segment(views, announced=count)
        if not segments and not email.is_reply and not self._looks_grateful(views, email.text):
            # A new email to support asks something: take its most request-like unit.
            best = max(range(len(views)), key=lambda i: views[i].request_probability)
            segments = [Segment(request_units=[best],
                                context_units=[i for i in range(len(views)) if i != best])]
        texts = [self._segment_text(views, segment, request_only=True) for segment in segments]
        # A reply's subject names the conversation's old topic, not what this message adds.
        if self.config.use_subject_for_single_request and len(segments) == 1 and not email.is_reply:
            subject = clean_subject(email.subject)
            if subject:
                texts = [f"{subject}\n{texts[0]}"]
        requests = self._classify(views, segments, texts, email)
        if email.is_reply and email.existing_requests and count is None:
            # A reply that announces a count ("Two things.") lists what it raises now; otherwise a
            # request that continues an open one is dropped.
            requests = self._drop_continuations(requests, segments, views, email.existing_requests)
        gratitude = not requests and self._looks_grateful(views, email.text)
        return EmailTriage(requests=requests, gratitude_only=gratitude, classifier=self.name,
                           model_version=self.model_version)

    @staticmethod
    def _looks_grateful(views: list[UnitView], text: str) -> bool:
        """A bare thanks: gratitude words, and nothing that chases, supplies info or asks."""
        if not has_gratitude(text):
            return False
        return all(view.role in ("thanks", "context") for view in views) and any(
            view.role == "thanks" or has_gratitude(view.unit.text) for view in views)

    @staticmethod
    def _segment_text(views: list[UnitView], segment: Segment, *, request_only: bool) -> str:
        indices = sorted(segment.request_units) if request_only else segment.units
        return "\n".join(strip_list_marker(views[i].unit.text) or views[i].unit.text for i in indices)

    def _classify(self, views: list[UnitView], segments: list[Segment], texts: list[str],
                  email: EmailForTriage) -> list[RequestTriage]:
        if not segments:
            return []
        embeddings = self.model.embed(texts)
        categories = self.model.predict("category", texts, embeddings)
        areas = self.model.predict("product_area", texts, embeddings)
        category_proba = _aligned(categories.proba, categories.labels, self.categories)
        area_proba = _aligned(areas.proba, areas.labels, self.areas)
        if self.config.sentence_weight > 0:
            category_proba, area_proba = self._blend_sentences(views, segments, category_proba, area_proba)
        if self.config.context_weight > 0:
            # The request with its context units (background, impact, the data it supplies) and, for a
            # new email, its subject: the wider view the sender wrote the request in.
            subject = clean_subject(email.subject) if not email.is_reply else ""
            wide = ["\n".join(part for part in (subject, self._segment_text(views, segment, request_only=False))
                               if part) for segment in segments]
            wide_embeddings = self.model.embed(wide)
            wide_categories = _aligned(self.model.predict("category", wide, wide_embeddings).proba,
                                       categories.labels, self.categories)
            wide_areas = _aligned(self.model.predict("product_area", wide, wide_embeddings).proba,
                                  areas.labels, self.areas)
            weight = self.config.context_weight
            category_proba = (1 - weight) * category_proba + weight * wide_categories
            area_proba = (1 - weight) * area_proba + weight * wide_areas
        results: list[RequestTriage] = []
        for row, segment in enumerate(segments):
            order = np.argsort(-category_proba[row])
            category_index, area_index = self._decode(category_proba[row], area_proba[row])
            category = self.categories[category_index]
            confidence = float(category_proba[row, category_index])
            area = self.areas[area_index]
            full_text = self._segment_text(views, segment, request_only=False)
            request_text = texts[row]
            integration = self._integration(request_text, category, area, email, single=len(segments) == 1)
            results.append(RequestTriage(
                text=full_text,
                summary=self._summary(views, segment),
                category=category,
                product_area=area,
                integration=integration,
                signals=detect_signals(full_text, category=category),
                sentiment=sentiment(full_text),
                confidence=round(confidence, 4),
                top_categories=tuple((self.categories[int(i)], round(float(category_proba[row, i]), 4))
                                     for i in order[:3]),
                needs_review=confidence < self.min_confidence,
            ))
        return results

    def _decode(self, category_proba: NDArray[np.float64], area_proba: NDArray[np.float64]) -> tuple[int, int]:
        """(category index, area index) for one request (see `LocalClassifierConfig`)."""
        config = self.config
        if config.pair_prior_weight == 0 and not config.route_decoding:
            return int(category_proba.argmax()), int(area_proba.argmax())
        floor = 1e-6
        score = np.log(np.maximum(category_proba, floor))[:, None] + np.log(np.maximum(area_proba, floor))[None, :]
        score = score + config.pair_prior_weight * self.pair_pmi
        if config.route_decoding:
            joint = np.exp(score - score.max())
            routes = sorted(set(self.route_table.flat))
            mass = [float(joint[self.route_table == route].sum()) for route in routes]
            best_route = routes[int(np.argmax(mass))]
            score = np.where(self.route_table == best_route, score, -np.inf)
        category_index, area_index = np.unravel_index(int(np.argmax(score)), score.shape)
        return int(category_index), int(area_index)

    def _blend_sentences(self, views: list[UnitView], segments: list[Segment], category_proba: NDArray[np.float64],
                         area_proba: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mix in sentence-level predictions weighted by how request-like each sentence is, so an
        intro ("Two things.") or a background sentence barely moves a request's labels."""
        sentences: list[str] = []
        owners: list[int] = []
        for row, segment in enumerate(segments):
            for index in sorted(segment.request_units):
                for sentence in split_sentences(strip_list_marker(views[index].unit.text)):
                    sentences.append(sentence)
                    owners.append(row)
        if not sentences:
            return category_proba, area_proba
        embeddings = self.model.embed(sentences)
        roles = self.model.predict("role", sentences, embeddings)
        weights = roles.proba[:, roles.labels.index("request")]
        categories = self.model.predict("category", sentences, embeddings)
        areas = self.model.predict("product_area", sentences, embeddings)
        sentence_categories = _aligned(categories.proba, categories.labels, self.categories)
        sentence_areas = _aligned(areas.proba, areas.labels, self.areas)
        alpha = self.config.sentence_weight
        blended_categories = category_proba.copy()
        blended_areas = area_proba.copy()
        owner_array = np.array(owners)
        for row in range(len(segments)):
            mask = owner_array == row
            total = float(weights[mask].sum())
            if total <= 0:
                continue
            mean_category = (sentence_categories[mask] * weights[mask, None]).sum(axis=0) / total
            mean_area = (sentence_areas[mask] * weights[mask, None]).sum(axis=0) / total
            blended_categories[row] = (1 - alpha) * category_proba[row] + alpha * mean_category
            blended_areas[row] = (1 - alpha) * area_proba[row] + alpha * mean_area
        return blended_categories, blended_areas

    def _integration(self, text: str, category: str, area: str, email: EmailForTriage, *, single: bool
                     ) -> str | None:
        named = self.integrations.find_all(text)
        if not named and single:
            named = self.integrations.find_all(email.subject)
        if named:
            return named[0]
        if (area == "integrations" or category == "integration_issue") and email.account_integration:
            known = {name for name, _ in self.integrations.patterns}
            return email.account_integration if email.account_integration in known else None
        return None

    def _summary(self, views: list[UnitView], segment: Segment) -> str:
        """The request's most central sentence (extractive): closest to the request's meaning,
        skipping generic asks ("Can someone take a look?") when there is anything better."""
        sentences = [s for i in sorted(segment.request_units)
                     for s in split_sentences(strip_list_marker(views[i].unit.text))]
        if not sentences:
            return ""
        candidates = [s for s in sentences if len(s.split()) >= 4 and not _GENERIC_ASK.match(s)] or sentences
        if len(candidates) == 1:
            return _trim(candidates[0])
        vectors = self.model.embed(candidates)
        centre = vectors.mean(axis=0)
        scores = vectors @ centre
        # Prefer earlier sentences slightly: senders usually state the problem first.
        scores = scores - 0.01 * np.arange(len(candidates))
        return _trim(candidates[int(np.argmax(scores))])

    def _drop_continuations(self, requests: list[RequestTriage], segments: list[Segment],
                            views: list[UnitView], existing: Sequence[ExistingRequest]) -> list[RequestTriage]:
        """In a reply, keep only requests that are new and unrelated to the open ones."""
        summaries = [request.summary or request.category for request in existing]
        existing_vectors = self.model.embed(summaries)
        kept: list[RequestTriage] = []
        for request, segment in zip(requests, segments, strict=True):
            cue = segment.opening_cue or views[segment.request_units[0]].unit.cue or ""
            if cue and _NEW_TOPIC_IN_REPLY.match(cue):
                kept.append(request)
                continue
            # Only the request's own units: context it carries ("the statuses have been right since
            # Friday") is about the old topic by nature and would make a new ask look like a continuation.
            vector = self.model.embed([self._segment_text(views, segment, request_only=True)])[0]
            similarities = existing_vectors @ vector
            continues = any(
                (request.category == old.category and similarity >= self.config.followup_similarity_same_category)
                or similarity >= self.config.followup_similarity_any
                for old, similarity in zip(existing, similarities, strict=True))
            if not continues:
                kept.append(request)
        return kept
