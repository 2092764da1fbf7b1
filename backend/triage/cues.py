"""Speech-act cues: a few dense features that say *what kind of thing* a text asks, written from
the category definitions in POLICY.md.

The categories that get confused differ less in topic than in what the sender does with it:
"how do I change our hours?" (how_to) vs "please change our hours" (config_change) vs "could
Pam show our hours in the app?" (feature_request) vs "the hours page gives an error" (bug), and
a failure of everything (outage) vs of some records (integration_issue). TF-IDF sees these
words too, but spread over thousands of n-grams next to a long email's topic words; one count
per cue family gives the classifier a compact handle on them that a few hundred examples can
weight reliably. Each family is a list of phrasings of the definition, not of any sample email.

`cue_features(texts)` returns log(1 + matches) per family, in `CUE_FAMILIES` order. Pure text
rules; nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

_VERBS = (r"(?:change|update|add|remove|set|turn|switch|move|put|block|replace|make|stop|pause|delete|correct|"
          r"create|send|enable|disable)")

CUE_FAMILIES: dict[str, str] = {
    # how_to: "a question answered by documentation".
    "how_question": (
        r"\b(?:how (?:do|can|would|should|does) (?:i|we|you|one|it)|where (?:do|can|would|is|are) (?:i|we|the)|"
        r"is there (?:a|any) (?:way|setting|option|report|place)|what(?:'s| is) the (?:best|right) way|"
        r"can (?:i|we) (?:see|find|get|set|change|turn|add|export|pull)|how to)\b"),
    # config_change: "asks us to change a setting".
    "action_request": (
        rf"\b(?:please (?:{_VERBS})|(?:can|could|would) you (?:please )?(?:{_VERBS})|"
        r"we need (?:you|pam) to|we(?:'d| would) like (?:pam|you|her) to)\b"),
    # feature_request: "asks for something the product does not do".
    "wish": (
        r"\b(?:it would be (?:great|nice|helpful|awesome)|would (?:love|like) (?:it )?if|(?:any|are there) plans?|"
        r"on the roadmap|feature request|please consider|wish (?:pam|it|you|the)|would it be possible|"
        r"could (?:you|pam) add|be able to)\b"),
    # bug / integration_issue: something is broken.
    "problem": (
        r"\b(?:not working|doesn't work|does not work|isn't working|won't|can't|cannot|error|broken|stopped|"
        r"fails?|failed|failing|crash\w*|wrong|missing|stuck|blank|not showing|doesn't show|not loading)\b"),
    # ai_behavior: "the assistant said something wrong, booked wrongly, did not transfer".
    "assistant_did": (
        r"\b(?:pam|she|the assistant|the ai) (?:told|said|says|keeps? (?:telling|saying|booking)|booked|quoted|"
        r"hung up|transferred|didn't transfer|did not transfer|gave|offered|answered)\b"),
    # outage: "the service is down ... nothing syncing" vs a partial failure.
    "total_failure": (
        r"\b(?:nothing|not a single|not one|every (?:single )?(?:call|text|customer|appointment)|"
        r"all (?:calls|texts|appointments)|completely|totally|entirely|down|dead|no one can|nobody can|at all)\b"),
    "partial_failure": (
        r"\b(?:some|a few|a couple|one of|a handful|certain|only (?:some|a few|one)|occasionally|sometimes|"
        r"intermittent\w*)\b"),
    # billing: "invoices, charges, plan changes, cancellation requests".
    "money": (
        r"\b(?:invoice\w*|charged?|charges|billing|bill|price|pricing|cost|credit|refund|payment|plan|contract|"
        r"cancel\w*|renewal)\b"),
    # feedback: "praise or complaint with no concrete request".
    "praise": r"\b(?:great job|well done|thank you|thanks|kudos|love|impressed|shout ?out|appreciate)\b",
    # account_access: "login, password reset, add/remove a user, 2FA, SSO".
    "access": (
        r"\b(?:log ?in|logins?|sign ?in|password|locked out|2fa|two-factor|sso|single sign-on|users?|role|access|"
        r"invite)\b"),
    # onboarding: "new dealer setup, go-live scheduling, integration pending, training".
    "setup": (
        r"\b(?:go[- ]live|kickoff|kick-off|onboarding|training|set ?up|setup|pending|"
        r"new (?:store|rooftop|dealer))\b"),
}
_PATTERNS = tuple(re.compile(pattern, re.IGNORECASE) for pattern in CUE_FAMILIES.values())


def cue_features(texts: Sequence[str]) -> NDArray[np.float32]:
    """(len(texts), len(CUE_FAMILIES)): log(1 + number of matches) of each cue family."""
    out = np.zeros((len(texts), len(_PATTERNS)), dtype=np.float32)
    for row, text in enumerate(texts):
        for column, pattern in enumerate(_PATTERNS):
            out[row, column] = np.log1p(len(pattern.findall(text)))
    return out
