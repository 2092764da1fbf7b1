"""Measure the mail parsing layer against public fixtures and the dev mailbox.

One function per corpus, each returning a dict of numbers (and the failing case ids, so a
regression can be read, not just counted). `python -m backend.mail.measure` prints the tables that
docs/results-mail.md reports (``--reply-only``: the reply-extraction table alone, ``-v``: every failing
case). The corpora live outside the repository (``../shared`` beside the
project root); a missing corpus raises `FileNotFoundError` naming the path (ours to fix, not a
sender's failure).

Scoring of reply extraction follows ``reply_extraction/reply_cases_README.md``:

* a case passes when every ``must_contain`` string occurs in ``reply_text + "\\n" + signature`` and no
  ``must_not_contain`` string occurs in ``reply_text``; line endings normalised to LF and trailing
  spaces ignored (plain text), whitespace runs collapsed on both sides (HTML);
* "portable" cases are all cases except the peer-policy tags that contradict each other:
  ``[forward-as-quote]``, ``[forward-kept]``, ``[quote-only-fallback]``;
* ``exact`` compares the peer's own ``expected_reply`` (where it asserts one) with ``reply_text`` (or
  ``reply_text`` + ``signature`` when the peer keeps signatures), after the same normalisation and
  with blank lines ignored (removing an interleaved quote leaves a blank gap the peers do not keep).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backend.mail.automated import detect_automated
from backend.mail.html_text import html_to_text
from backend.mail.message import ParsedEmail, UnparseableEmail
from backend.mail.mime import parse_email
from backend.mail.reply import split_reply
from backend.paths import SHARED_DIR

SHARED = SHARED_DIR
EXTERNAL = SHARED / "external"
REPLY_DIR = EXTERNAL / "reply_extraction"
AUTOMATED_DIR = EXTERNAL / "automated_mail"
MIME_DIR = EXTERNAL / "mime_corpus"
DEV_MAILBOX = SHARED / "data" / "mailbox-dev"

NON_PORTABLE_TAGS = ("[forward-as-quote]", "[forward-kept]", "[quote-only-fallback]")
AUTOMATED_KINDS = ("auto_reply", "bounce", "newsletter", "spam")
_NOT_MAIL = frozenset({"LICENSE.TXT", "README.TXT", "COPYING.TXT"})


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"corpus not found: {path}")
    return path


# --------------------------------------------------------------------------------------------
# Reply extraction
# --------------------------------------------------------------------------------------------


def _plain(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines)


def _collapsed(text: str) -> str:
    return re.sub(r"[\s\u00a0]+", " ", text).strip()


def _exact_form(text: str) -> str:
    """Lines without trailing spaces, blank lines dropped (removing a quote leaves a gap of its own)."""
    return "\n".join(line for line in _plain(text).split("\n") if line.strip())


def load_reply_cases() -> list[dict[str, Any]]:
    path = _require(REPLY_DIR / "reply_cases.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def is_portable(case: dict[str, Any]) -> bool:
    return not any(tag in case["source_assertion"] for tag in NON_PORTABLE_TAGS)


def run_reply_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run split_reply on one case; returns pass flags and what failed."""
    raw = (REPLY_DIR / case["input_file"]).read_bytes().decode("utf-8", errors="replace")
    is_html = case["content_type"] == "text/html"
    if is_html:
        parts = split_reply(html_to_text(raw), html=raw)
        norm = _collapsed
    else:
        parts = split_reply(raw)
        norm = _plain
    reply = norm(parts.reply_text)
    both = norm(parts.reply_text + "\n" + parts.signature)
    missing = [s for s in case["must_contain"] if norm(s) not in both]
    leaked = [s for s in case["must_not_contain"] if norm(s) in reply]
    exact: bool | None = None
    if case["expected_reply"] is not None:
        produced = (
            parts.reply_text + "\n\n" + parts.signature
            if case["signature_included_in_expected"] and parts.signature
            else parts.reply_text
        )
        if is_html:
            exact = _collapsed(produced) == _collapsed(case["expected_reply"])
        else:
            exact = _exact_form(produced) == _exact_form(case["expected_reply"])
    return {
        "id": f"{case['suite']}/{case['id']}",
        "suite": case["suite"],
        "portable": is_portable(case),
        "passed": not missing and not leaked,
        "missing": missing,
        "leaked": leaked,
        "exact": exact,
    }


def measure_reply_cases() -> dict[str, Any]:
    """Pass rates over reply_cases.jsonl: overall, portable, per suite, and exact-match rates."""
    results = [run_reply_case(case) for case in load_reply_cases()]
    portable = [r for r in results if r["portable"]]
    per_suite: dict[str, dict[str, Any]] = {}
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        by_suite[result["suite"]].append(result)
    for suite, rows in sorted(by_suite.items()):
        suite_portable = [r for r in rows if r["portable"]]
        exact_rows = [r for r in rows if r["exact"] is not None]
        per_suite[suite] = {
            "cases": len(rows),
            "passed": sum(r["passed"] for r in rows),
            "portable": len(suite_portable),
            "portable_passed": sum(r["passed"] for r in suite_portable),
            "exact_cases": len(exact_rows),
            "exact_passed": sum(bool(r["exact"]) for r in exact_rows),
        }
    return {
        "cases": len(results),
        "passed": sum(r["passed"] for r in results),
        "portable": len(portable),
        "portable_passed": sum(r["passed"] for r in portable),
        "portable_rate": sum(r["passed"] for r in portable) / len(portable) if portable else 0.0,
        "per_suite": per_suite,
        "failures": [r for r in results if not r["passed"]],
        "exact_failures": [r["id"] for r in results if r["exact"] is False],
    }


# --------------------------------------------------------------------------------------------
# Automated mail
# --------------------------------------------------------------------------------------------


def _parse_file(path: Path) -> ParsedEmail | None:
    try:
        return parse_email(path.read_bytes())
    except UnparseableEmail:
        return None


def _verdict(path: Path) -> tuple[str | None, str]:
    """(kind or None, reason) for one message file; kind "unparseable" when it is not an email."""
    email = _parse_file(path)
    if email is None:
        return "unparseable", ""
    parts = split_reply(email.body_text, html=email.body_html, sender=email.header("From"))
    verdict = detect_automated(email, parts.reply_text)
    return (verdict.kind, verdict.reason) if verdict else (None, "")


def _verdict_kind(path: Path) -> str | None:
    return _verdict(path)[0]


def measure_automated_corpora() -> dict[str, Any]:
    """Detection rate per external corpus, and false positives on the samples labelled not automated."""
    root = _require(AUTOMATED_DIR)
    out: dict[str, Any] = {}

    # sisimai: category per file (bounce, abuse feedback, delivery notification, auto_reply, not_bounce).
    labels = json.loads((root / "sisimai" / "labels.json").read_text())
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[str] = []
    seen: set[str] = set()
    for case in labels["cases"]:
        if case["path"] in seen:
            continue
        seen.add(case["path"])
        kind = _verdict_kind(root / "sisimai" / case["path"])
        by_category[case["category"]][str(kind)] += 1
        expected = {"bounce": "bounce", "auto_reply": "auto_reply"}.get(case["category"])
        if expected and kind != expected:
            misses.append(f"{case['path']} ({case['category']} -> {kind})")
    out["sisimai"] = {
        "by_category": {cat: dict(counts) for cat, counts in sorted(by_category.items())},
        "bounce_detected": by_category["bounce"]["bounce"],
        "bounce_total": sum(by_category["bounce"].values()),
        "auto_reply_detected": by_category["auto_reply"]["auto_reply"],
        "auto_reply_total": sum(by_category["auto_reply"].values()),
        "not_bounce_flagged": sum(n for k, n in by_category["not_bounce"].items() if k != "None"),
        "not_bounce_total": sum(by_category["not_bounce"].values()),
        "misses": misses,
    }

    # flufl.bounce: every labelled file is a bounce.
    labels = json.loads((root / "flufl_bounce" / "labels.json").read_text())
    files = sorted({case["file"] for case in labels["cases"]})
    kinds = {f: _verdict_kind(root / "flufl_bounce" / f) for f in files}
    out["flufl_bounce"] = {
        "bounce_detected": sum(k == "bounce" for k in kinds.values()),
        "bounce_total": len(files),
        "misses": [f"{f} -> {k}" for f, k in kinds.items() if k != "bounce"],
    }

    # bounce_email (mitio): bounced true/false.
    labels = json.loads((root / "mitio_bounce_email" / "labels.json").read_text())
    bounced = [c for c in labels["cases"] if c["bounced"]]
    not_bounced = [c for c in labels["cases"] if not c["bounced"]]
    b_kinds = {c["file"]: _verdict_kind(root / "mitio_bounce_email" / c["file"]) for c in bounced}
    n_kinds = {c["file"]: _verdict_kind(root / "mitio_bounce_email" / c["file"]) for c in not_bounced}
    out["mitio_bounce_email"] = {
        "bounce_detected": sum(k == "bounce" for k in b_kinds.values()),
        "bounce_total": len(bounced),
        "non_bounce_flagged_bounce": sum(k == "bounce" for k in n_kinds.values()),
        "non_bounce_total": len(not_bounced),
        "non_bounce_kinds": {f: k for f, k in n_kinds.items()},
        "misses": [f"{f} -> {k}" for f, k in b_kinds.items() if k != "bounce"],
    }

    # flanker: 3 asserted + unasserted bounce files (real bounces by name).
    labels = json.loads((root / "mailgun_flanker" / "labels.json").read_text())
    asserted = {c["file"]: c["is_bounce"] for c in labels["cases"]}
    unasserted = list(labels.get("unasserted_bounce_files") or [])
    f_kinds = {f: _verdict_kind(root / "mailgun_flanker" / f) for f in [*asserted, *unasserted]}
    truth = {**asserted, **dict.fromkeys(unasserted, True)}
    out["mailgun_flanker"] = {
        "bounce_detected": sum(f_kinds[f] == "bounce" for f, is_b in truth.items() if is_b),
        "bounce_total": sum(truth.values()),
        "asserted_correct": sum((f_kinds[f] == "bounce") == is_b for f, is_b in asserted.items()),
        "asserted_total": len(asserted),
        "misses": [f"{f} -> {f_kinds[f]}" for f, is_b in truth.items() if is_b and f_kinds[f] != "bounce"],
    }

    # Discourse fixtures and Zammad header cases: auto or not.
    labels = json.loads((root / "discourse_and_zammad_header_cases" / "labels.json").read_text())
    rows = []
    for case in labels["discourse"]["cases"]:
        if case["is_auto_generated"] is None:
            continue
        kind = _verdict_kind(root / "discourse_and_zammad_header_cases" / case["file"])
        rows.append((f"discourse:{case['file']}", bool(case["is_auto_generated"]), kind))
    for case in labels["zammad"]["cases"]:
        raw = (
            "From: me@example.com\nTo: customer@example.com\n"
            f"Subject: {case['subject']}\n{case['headers']}\n\nSome Text\n".replace("\n\n\n", "\n\n")
        )
        if not case["headers"]:
            raw = f"From: me@example.com\nTo: customer@example.com\nSubject: {case['subject']}\n\nSome Text\n"
        email = parse_email(raw.encode())
        verdict = detect_automated(email, "Some Text")
        rows.append((f"zammad:{case['name']}", bool(case["out_of_office"]), verdict.kind if verdict else None))
    out["discourse_zammad"] = {
        "correct": sum((kind is not None) == expected for _, expected, kind in rows),
        "total": len(rows),
        "rows": [{"case": name, "expected_auto": exp, "got": kind} for name, exp, kind in rows],
    }
    return out


def load_dev_labels() -> list[dict[str, Any]]:
    path = _require(DEV_MAILBOX / "labels.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def measure_dev_mailbox() -> dict[str, Any]:
    """Automated-kind accuracy on the dev mailbox: every automated mail's kind, and false positives."""
    labels = load_dev_labels()
    confusion: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    false_positives: list[str] = []
    reasons: dict[str, str] = {}
    per_label: dict[str, Counter[str]] = defaultdict(Counter)
    for label in labels:
        kind, reason = _verdict(DEV_MAILBOX / "mail" / label["file"])
        predicted = kind or "not_automated"
        truth = label["kind"] if label["kind"] in AUTOMATED_KINDS else "not_automated"
        confusion[(truth, predicted)] += 1
        per_label[label["kind"]]["correct" if predicted == truth else "wrong"] += 1
        if kind:
            reasons[label["file"]] = f"{kind}: {reason}"
        if truth != predicted:
            wrong.append(f"{label['file']} ({label['kind']} -> {predicted})")
            if truth == "not_automated":
                false_positives.append(label["file"])
    automated = [lab for lab in labels if lab["kind"] in AUTOMATED_KINDS]
    return {
        "automated_total": len(automated),
        "automated_kind_correct": sum(confusion[(k, k)] for k in AUTOMATED_KINDS),
        "not_automated_total": len(labels) - len(automated),
        "false_positives": false_positives,
        "per_label_kind": {k: dict(v) for k, v in sorted(per_label.items())},
        "confusion": {f"{t}->{p}": n for (t, p), n in sorted(confusion.items())},
        "reasons": reasons,
        "wrong": wrong,
    }


# --------------------------------------------------------------------------------------------
# MIME robustness
# --------------------------------------------------------------------------------------------


def iter_robustness_files() -> Iterator[tuple[str, Path]]:
    """Every file the MIME parser must survive: the MIME corpus, automated-mail samples, dev mailbox."""
    index = json.loads(_require(MIME_DIR / "index.json").read_text())
    for entry in index["items"]:
        yield "mime_corpus", MIME_DIR / entry["path"]
    for path in sorted(_require(AUTOMATED_DIR).rglob("*")):
        # Every sample message (.eml / .txt); the folders also hold licences, JSON labels and peer code.
        if path.is_file() and path.suffix in (".eml", ".txt") and path.name.upper() not in _NOT_MAIL:
            yield "automated_mail", path
    for path in sorted(_require(DEV_MAILBOX / "mail").glob("*.eml")):
        yield "mailbox_dev", path


def measure_mime_robustness() -> dict[str, Any]:
    """parse_email over every robustness file: outcomes per corpus and any unhandled exception."""
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    crashes: list[str] = []
    unparseable: list[str] = []
    defects = 0
    for corpus, path in iter_robustness_files():
        try:
            email = parse_email(path.read_bytes())
            parts = split_reply(email.body_text, html=email.body_html)
            detect_automated(email, parts.reply_text)
        except UnparseableEmail as error:
            outcomes[corpus]["unparseable"] += 1
            unparseable.append(f"{path.relative_to(SHARED)}: {error.reason}")
            continue
        except Exception as error:  # the measurement exists to count exactly these
            outcomes[corpus]["crash"] += 1
            crashes.append(f"{path.relative_to(SHARED)}: {type(error).__name__}: {error}")
            continue
        outcomes[corpus]["parsed"] += 1
        defects += bool(email.defects)
    return {
        "per_corpus": {corpus: dict(counts) for corpus, counts in sorted(outcomes.items())},
        "files": sum(sum(c.values()) for c in outcomes.values()),
        "crashes": crashes,
        "unparseable": unparseable,
        "with_defects": defects,
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _pct(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator} ({100 * numerator / denominator:.1f}%)" if denominator else "0/0"


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    verbose = "-v" in args
    reply_only = "--reply-only" in args  # skip the slower automated-mail, dev-mailbox and MIME sections
    reply = measure_reply_cases()
    print("## Reply extraction (reply_cases.jsonl)\n")
    print("| suite | all cases | portable | exact expected_reply |")
    print("|---|---|---|---|")
    for suite, row in reply["per_suite"].items():
        print(
            f"| {suite} | {_pct(row['passed'], row['cases'])} | {_pct(row['portable_passed'], row['portable'])} "
            f"| {_pct(row['exact_passed'], row['exact_cases'])} |"
        )
    total_exact = sum(r["exact_cases"] for r in reply["per_suite"].values())
    total_exact_passed = sum(r["exact_passed"] for r in reply["per_suite"].values())
    print(
        f"| **total** | {_pct(reply['passed'], reply['cases'])} | "
        f"{_pct(reply['portable_passed'], reply['portable'])} | {_pct(total_exact_passed, total_exact)} |"
    )
    if verbose:
        for failure in reply["failures"]:
            print("  FAIL", failure["id"], "portable" if failure["portable"] else "", failure["missing"],
                  failure["leaked"])
        print("  exact failures:", reply["exact_failures"])
    if reply_only:
        return 0

    automated = measure_automated_corpora()
    print("\n## Automated mail (external corpora)\n")
    print("| corpus | detected | false positives |")
    print("|---|---|---|")
    sis = automated["sisimai"]
    print(f"| sisimai bounces | {_pct(sis['bounce_detected'], sis['bounce_total'])} as bounce | |")
    print(f"| sisimai RFC 3834 auto-replies | {_pct(sis['auto_reply_detected'], sis['auto_reply_total'])} "
          "as auto_reply | |")
    print(f"| sisimai not-bounce | | {_pct(sis['not_bounce_flagged'], sis['not_bounce_total'])} flagged |")
    for category in ("abuse_feedback_report", "delivery_success_notification"):
        print(f"| sisimai {category} | {sis['by_category'].get(category)} | |")
    flufl = automated["flufl_bounce"]
    print(f"| flufl.bounce | {_pct(flufl['bounce_detected'], flufl['bounce_total'])} as bounce | |")
    mitio = automated["mitio_bounce_email"]
    print(f"| bounce_email | {_pct(mitio['bounce_detected'], mitio['bounce_total'])} as bounce | "
          f"{_pct(mitio['non_bounce_flagged_bounce'], mitio['non_bounce_total'])} non-bounces called bounce |")
    flanker = automated["mailgun_flanker"]
    print(f"| flanker | {_pct(flanker['bounce_detected'], flanker['bounce_total'])} as bounce "
          f"(asserted {flanker['asserted_correct']}/{flanker['asserted_total']}) | |")
    dz = automated["discourse_zammad"]
    print(f"| discourse + zammad header cases | {_pct(dz['correct'], dz['total'])} correct | |")
    if verbose:
        for name in ("sisimai", "flufl_bounce", "mitio_bounce_email", "mailgun_flanker"):
            for miss in automated[name]["misses"]:
                print("  MISS", name, miss)
        print("  mitio non-bounces:", mitio["non_bounce_kinds"])
        for row in dz["rows"]:
            print("  ", row)

    dev = measure_dev_mailbox()
    print("\n## Dev mailbox (../shared/data/mailbox-dev)\n")
    print(f"- automated mails with the right kind: {_pct(dev['automated_kind_correct'], dev['automated_total'])}")
    print(f"- false positives on request/followup/thanks mails: {len(dev['false_positives'])} "
          f"of {dev['not_automated_total']}")
    print("\n| label kind | right | wrong |\n|---|---|---|")
    for kind, counts in dev["per_label_kind"].items():
        print(f"| {kind} | {counts.get('correct', 0)} | {counts.get('wrong', 0)} |")
    if verbose:
        print("  wrong:", dev["wrong"])
        for file, reason in sorted(dev["reasons"].items()):
            print(f"  {file}: {reason}")

    mime = measure_mime_robustness()
    print("\n## MIME robustness\n")
    print(f"- files: {mime['files']}, unhandled exceptions: {len(mime['crashes'])}, "
          f"UnparseableEmail: {len(mime['unparseable'])}, with defects recorded: {mime['with_defects']}")
    for corpus, counts in mime["per_corpus"].items():
        print(f"- {corpus}: {counts}")
    for line in [*mime["crashes"], *mime["unparseable"]]:
        print("  ", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
