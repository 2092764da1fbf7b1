"""Facts read from a request's own words: priority signals, integration, sentiment, gratitude.

These are rules, not model output, because each is defined by what the sender *says*
(POLICY.md): "URGENT" counts only with a stated reason; a cancellation threat is a churn
signal; a legal threat or a security exposure is legal/security; many records wrong is
data-wrong-at-scale. Integration names come from the policy's alias lists
(config/policy.yaml `integrations`), matched case-insensitively on word boundaries.

Pure functions over text; nothing here raises for the sender's input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from backend.triage.types import PrioritySignals

_URGENCY = re.compile(
    r"\b(urgent(?:ly)?|asap|a\.s\.a\.p|emergency|right away|immediately|as soon as (?:possible|you can|you see this)|"
    r"the sooner the better|time[- ]sensitive|top priority|high priority|"
    r"treat (?:this|it) as (?:a )?(?:priority|urgent)|"
    r"call me(?: now| asap| right away)?|need (?:this|it) (?:fixed|done|sorted|resolved) (?:today|now|asap|before|by)|"
    r"today if (?:at all )?possible|kind of urgent|really need)\b",
    re.IGNORECASE,
)
# A stated reason: a consequence happening now, or a deadline the sender names.
_REASON = re.compile(
    r"\b(because|since (?:we|the|our|this|it|they)|otherwise|or else|so that|"
    r"before (?:the |our |my |this |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|"
    r"weekend|meeting|event|sale|shift|open(?:ing)?|\d)|"
    r"by (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|noon|end of (?:the )?day|eod|\d)|"
    r"deadline|(?:a|my|our) (?:\d{1,2}(?::\d\d)?\s*(?:am|pm)?\s*)?meeting|presentation|"
    r"(?:we(?:'re| are)|i(?:'m| am)) losing|losing (?:calls|customers|money|business|appointments|sales)|"
    r"every (?:day|hour|call|transfer|minute)|full (?:drive|shop|lane|day|schedule)|line out the door|"
    r"customers? (?:are|keep|can't|cannot|have been)|can(?:'t|not) (?:work|do|get|see|log|book|reach|answer)|"
    r"every day it|the longer|costing us|we will have to|we'll have to|out on the lot|tent sale|"
    r"(?:need|have) to (?:get in|be in|enter|put|send|present) .{0,40}(?:before|by))",
    re.IGNORECASE,
)
_CHURN = re.compile(
    r"\b(cancel(?:l?ing|l?ed)? (?:our|the|my|this) (?:contract|subscription|account|service|agreement|plan)|"
    r"cancel (?:pam|you|the service)|want to cancel|(?:we|i)(?:'d| would) like to cancel|"
    r"(?:not|won't|will not|aren't|are not|isn't) (?:be )?renew(?:ing|al)?|not going to renew|"
    r"(?:not|won't|will not|i'm not|i am not) sign(?:ing)?(?: again| another| the renewal)?|"
    r"(?:we(?:'re| are| will|'ll)|i(?:'m| am| will|'ll)) (?:be )?(?:leav|switch|mov)(?:e|ing) "
    r"(?:to (?:another|a different)|vendors?|providers?)|"
    r"look(?:ing)? (?:at|for|into) (?:other|another|alternative|different) "
    r"(?:vendors?|providers?|options|solutions|systems)|"
    r"(?:stop|end|quit) using (?:pam|you|your)|find (?:another|a new|a different) (?:vendor|provider|solution)|"
    r"take (?:our|my) business elsewhere|recommend(?:ing)? .{0,60}(?:stop|cancel|drop|end|leave)|"
    r"terminate (?:our|the) (?:contract|agreement)|pull the plug|thinking about leaving|time to move on)",
    re.IGNORECASE,
)
_LEGAL_SECURITY = re.compile(
    r"\b(lawyer|attorney|legal action|lawsuit|sue (?:you|us)|litigation|tcpa|fcc|attorney general|"
    r"compliance (?:officer|issue|violation|problem)|report (?:us|you) to|"
    r"data breach|breach(?:ed)?|phishing|hacked|compromised|stolen (?:password|credentials)|"
    r"(?:entered|typed|gave) (?:his|her|their|my) (?:pam )?(?:email and )?(?:password|credentials)|"
    r"unauthori[sz]ed (?:access|sign-?ins?|logins?|user)|security (?:incident|issue|problem|concern|breach)|"
    r"(?:fired|terminated|let go|no longer (?:works|with us)).{0,160}(?:still|logged in|access|read|see)|"
    r"(?:opted out|replied stop|texted stop|said stop|asked (?:us )?to stop).{0,120}"
    r"(?:still|got|get|received|again|anyway)|"
    r"(?:still|got|received|texting|texted).{0,80}(?:after|even though) (?:they |she |he |we )?"
    r"(?:opted out|replied stop|said stop)|"
    r"personal (?:cell|phone) number .{0,40}(?:gave|given|shared)|"
    r"(?:gave|shared|leaked) .{0,40}(?:customer|personal) (?:data|information|numbers))",
    re.IGNORECASE,
)
_SCALE_NUMBER = re.compile(
    r"\b(\d{2,}|dozens|hundreds|thousands|all|every(?:one| single)?|most|half) (?:of )?(?:our |the |them |these )?"
    r"(?:\w+ ){0,2}(duplicates?|appointments?|customers?|records?|ros|repair orders|bookings?|contacts?|leads?|"
    r"statuses|vins?|phone numbers|names)\b",
    re.IGNORECASE,
)
_WRONG = re.compile(
    r"\b(wrong|incorrect|duplicat\w*|twice|missing|overwritten|overwriting|mismatch\w*|garbled|bad data|"
    r"doesn't match|don't match|not match|blank|empty|corrupt\w*)\b",
    re.IGNORECASE,
)

_GRATITUDE = re.compile(
    r"\b(thanks|thank you|thank u|thx|ty|tyvm|appreciate(?:d| it)?|much appreciated|gracias|mahalo|merci|danke|"
    r"obrigad[oa]|grazie|cheers|kudos)\b",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"\b(angry|upset|furious|frustrat\w*|unacceptable|ridiculous|terrible|awful|horrible|disaster|not happy|"
    r"unhappy|annoy\w*|disappoint\w*|worst|fed up|sick of|killing (?:us|me|my)|embarrass\w*|complain\w*|"
    r"not great|not ok|not okay|mess|broken|dead|down|losing|can't believe|wtf|useless|fix (?:this|it) now)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(great|love|loving|awesome|fantastic|amazing|excellent|wonderful|happy|pleased|impressed|perfect|"
    r"best|smooth|helpful|kudos|well done|good job|good work|nice work|saved our bacon|win|hit)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class IntegrationMatcher:
    """Finds integration names by the policy's aliases."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_aliases(cls, aliases: Mapping[str, Sequence[str]]) -> IntegrationMatcher:
        patterns = []
        for name, words in aliases.items():
            options = sorted({name, *words}, key=len, reverse=True)
            alternation = "|".join(re.escape(word).replace(r"\ ", r"[\s-]?") for word in options)
            patterns.append((name, re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE)))
        return cls(tuple(patterns))

    def find_all(self, text: str) -> list[str]:
        """Integrations named in `text`, most mentioned first (ties: first mentioned)."""
        hits: list[tuple[int, int, str]] = []
        for name, pattern in self.patterns:
            matches = list(pattern.finditer(text))
            if matches:
                hits.append((-len(matches), matches[0].start(), name))
        return [name for _, _, name in sorted(hits)]


def detect_signals(text: str, *, category: str | None = None) -> PrioritySignals:
    """Priority signals stated in one request's text (see the module docstring)."""
    urgent = bool(_URGENCY.search(text)) and bool(_REASON.search(text))
    churn = bool(_CHURN.search(text))
    legal = bool(_LEGAL_SECURITY.search(text))
    at_scale = any(_WRONG.search(text[max(0, m.start() - 120): m.end() + 120]) for m in _SCALE_NUMBER.finditer(text))
    if category not in (None, "integration_issue", "bug", "ai_behavior"):
        at_scale = False  # "many records wrong" is a data problem, not e.g. a billing or how-to question
    return PrioritySignals(
        urgent_with_reason=urgent,
        churn_threat=churn,
        legal_or_security=legal,
        data_wrong_at_scale=at_scale,
    )


def sentiment(text: str) -> str:
    """negative | neutral | positive, from word lists, shouting and exclamation runs."""
    negative = len(_NEGATIVE.findall(text))
    positive = len(_POSITIVE.findall(text))
    shouted = len(re.findall(r"\b[A-Z]{4,}\b", text))
    negative += min(shouted, 2) + (1 if re.search(r"[?!]{2,}", text) else 0)
    if negative > positive:
        return "negative"
    if positive > negative:
        return "positive"
    return "neutral"


def has_gratitude(text: str) -> bool:
    return bool(_GRATITUDE.search(text))
