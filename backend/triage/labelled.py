"""Read a labelled mailbox (the dev `labels.jsonl` format) into emails ready for triage.

A labelled mailbox is a folder with `mail/NNNN.eml`, `labels.jsonl` (one object per file: kind,
account, followup_of, requests with category / product_area / integration / summary) and
optionally `accounts.csv` (the account's DMS integration is a hint the pipeline passes the
classifier). This module turns it into `LabelledEmail`s: the text a classifier would see (via
the project's MIME parser and reply extractor when they are importable, else a small
stand-in that takes the text/plain part and cuts at the first quoted-history marker), the
`EmailForTriage` the pipeline would build (existing requests of a reply come from the labels
of the earlier messages of the same conversation), and the gold requests.

Failures: a label line that is not JSON, or that names a missing file, is the data's fault
but a training set is ours to keep consistent, so it raises `LabelledMailboxError` naming the
line; the evaluation never skips an email silently.
"""

from __future__ import annotations

import csv
import email
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

from backend.triage.model import TrainingExample
from backend.triage.types import EmailForTriage, ExistingRequest

AUTOMATED_KINDS = frozenset({"auto_reply", "bounce", "newsletter", "spam"})


class LabelledMailboxError(Exception):
    """The labelled mailbox is inconsistent (bad JSON line, missing .eml file)."""


@dataclass(frozen=True)
class GoldRequest:
    category: str
    product_area: str
    integration: str | None
    summary: str
    priority: str | None = None
    tier: int | None = None
    route: str | None = None


@dataclass(frozen=True)
class LabelledEmail:
    file: str
    message_id: str
    kind: str
    account: str | None
    followup_of: str | None
    requests: tuple[GoldRequest, ...]
    notes: str
    subject: str
    text: str  # the new text the classifier sees
    is_reply: bool
    existing_requests: tuple[ExistingRequest, ...] = ()
    account_integration: str | None = None
    conversation: str = ""  # the first message's id: the unit for k-fold splits
    date: str | None = None

    @property
    def is_human(self) -> bool:
        return self.kind not in AUTOMATED_KINDS

    def for_triage(self) -> EmailForTriage:
        return EmailForTriage(
            subject=self.subject,
            text=self.text,
            is_reply=self.is_reply,
            existing_requests=self.existing_requests,
            account_integration=self.account_integration,
        )


@dataclass(frozen=True)
class ReadMessage:
    subject: str
    text: str
    is_reply: bool
    date: str | None = None
    references: tuple[str, ...] = ()  # In-Reply-To and References ids


MessageReader = Callable[[bytes], ReadMessage]


# --- reading one message -------------------------------------------------------------------

_QUOTE_START = re.compile(
    r"^(?:On .{6,200}wrote:\s*$|On .{6,200}$|From:\s|Sent from my \w+|_{8,}\s*$|-{3,}\s*Original Message|"
    r">|El .{6,200}escribi[óo]:)",
    re.IGNORECASE,
)
_FORWARD_START = re.compile(r"^-{3,}\s*Forwarded message|^Begin forwarded message:", re.IGNORECASE)
_FORWARD_HEADER = re.compile(r"^(From|Date|Sent|Subject|To|Cc):\s", re.IGNORECASE)


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        try:
            from backend.mail.html_text import html_to_text

            return html_to_text(content, mark_quotes=True)
        except ImportError:  # pragma: no cover - the renderer ships with the project
            return re.sub(r"<[^>]+>", " ", content)
    return content


def _standin_new_text(body: str) -> str:
    """New text of a reply: everything above the first quoted-history marker. A forwarded
    message's body is kept (minus its header block): in a forward the request often lives there."""
    lines = body.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    in_forward_headers = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _FORWARD_START.match(stripped):
            in_forward_headers = True
            kept.append("")
            continue
        if in_forward_headers:
            if _FORWARD_HEADER.match(stripped) or not stripped:
                continue
            in_forward_headers = False
        if _QUOTE_START.match(stripped):
            # "On <date> <name>" can wrap onto two lines before "wrote:".
            if stripped.lower().startswith("on ") and not stripped.endswith("wrote:"):
                following = lines[index + 1].strip() if index + 1 < len(lines) else ""
                if not following.endswith("wrote:"):
                    kept.append(line)
                    continue
            if stripped.lower().startswith("sent from my"):
                continue
            break
        kept.append(line)
    return "\n".join(kept).strip()


def standin_read(raw: bytes) -> ReadMessage:
    """Minimal reader used only when backend.mail's parser and reply extractor are absent."""
    message = email.message_from_bytes(raw, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    subject = str(message.get("Subject", "") or "")
    ids = re.findall(r"<[^<>\s]+>", f"{message.get('In-Reply-To', '')} {message.get('References', '')}")
    return ReadMessage(
        subject=subject,
        text=_standin_new_text(_body_text(message)),
        is_reply=bool(ids),
        date=str(message.get("Date")) if message.get("Date") else None,
        references=tuple(ids),
    )


def project_reader() -> MessageReader | None:
    """The project's parser + reply extractor, when both modules exist."""
    try:
        from backend.mail.mime import parse_email  # type: ignore[import-not-found,unused-ignore]
        from backend.mail.reply import split_reply, text_for_triage  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None

    def read(raw: bytes) -> ReadMessage:
        # The same calls the pipeline makes (backend/pipeline/process.py) before triage.
        parsed = parse_email(raw)
        parts = split_reply(parsed.body_text, html=parsed.body_html,
                            sender=parsed.header("From") or parsed.from_address)
        return ReadMessage(
            subject=parsed.subject,
            text=text_for_triage(parts),
            is_reply=bool(parsed.in_reply_to or parsed.references),
            date=parsed.date.isoformat() if parsed.date else None,
            references=tuple(parsed.in_reply_to) + tuple(parsed.references),
        )

    return read


def default_reader() -> MessageReader:
    return project_reader() or standin_read


# --- the mailbox -----------------------------------------------------------------------------


def _load_account_integrations(path: Path) -> dict[str, str | None]:
    if not path.exists():
        return {}
    result: dict[str, str | None] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = (row.get("integration") or "").strip().lower()
            result[row["account_id"]] = None if value in ("", "none") else value
    return result


def _gold(request: dict[str, object]) -> GoldRequest:
    integration = request.get("integration")
    tier = request.get("tier")
    return GoldRequest(
        category=str(request["category"]),
        product_area=str(request["product_area"]),
        integration=str(integration) if integration else None,
        summary=str(request.get("summary") or ""),
        priority=str(request["priority"]) if request.get("priority") else None,
        tier=int(tier) if isinstance(tier, int | str) and str(tier).isdigit() else None,
        route=str(request["route"]) if request.get("route") else None,
    )


def load_labelled_mailbox(
    folder: Path,
    *,
    labels_path: Path | None = None,
    reader: MessageReader | None = None,
    human_only: bool = True,
) -> list[LabelledEmail]:
    """Every labelled email of `folder` in file order (only human mail when `human_only`).

    A reply's `existing_requests` are the gold requests of the earlier messages of its
    conversation (labels' `followup_of` points at the conversation's first message), which is
    what the pipeline's threading would hand the classifier.
    """
    labels_path = labels_path or folder / "labels.jsonl"
    read = reader or default_reader()
    integrations = _load_account_integrations(folder / "accounts.csv")
    requests_by_conversation: dict[str, list[GoldRequest]] = {}
    conversation_of: dict[str, str] = {}  # message id -> conversation (its first message's id)
    emails: list[LabelledEmail] = []
    for number, line in enumerate(labels_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            label = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelledMailboxError(f"{labels_path}:{number}: not JSON ({error})") from error
        path = folder / "mail" / label["file"]
        if not path.exists():
            raise LabelledMailboxError(f"{labels_path}:{number}: missing file {path}")
        kind = str(label["kind"])
        message_id = str(label.get("message_id") or label["file"])
        followup_of = label.get("followup_of")
        message = read(path.read_bytes())
        # A bare "thanks" has no followup_of; its headers still reference the conversation.
        referenced = [conversation_of[ref] for ref in message.references if ref in conversation_of]
        conversation = str(followup_of or (referenced[0] if referenced else message_id))
        conversation_of[message_id] = conversation
        gold = tuple(_gold(request) for request in label.get("requests") or [])
        earlier = requests_by_conversation.setdefault(conversation, [])
        existing = tuple(ExistingRequest(r.category, r.product_area, r.summary) for r in earlier)
        earlier.extend(gold)
        if human_only and kind in AUTOMATED_KINDS:
            continue
        account = label.get("account")
        emails.append(
            LabelledEmail(
                file=str(label["file"]),
                message_id=message_id,
                kind=kind,
                account=str(account) if account else None,
                followup_of=str(followup_of) if followup_of else None,
                requests=gold,
                notes=str(label.get("notes") or ""),
                subject=message.subject,
                text=message.text,
                is_reply=message.is_reply or bool(followup_of),
                existing_requests=existing if (message.is_reply or followup_of) else (),
                account_integration=integrations.get(str(account)) if account else None,
                conversation=conversation,
                date=message.date,
            )
        )
    return emails


# --- training examples from a labelled mailbox ----------------------------------------------

_CHASER_WORDS = re.compile(
    r"\b(any (?:update|news|word|progress)|update|status|eta|still|again|heard|follow(?:ing)? up|checking in|"
    r"where (?:are|do) we stand|waiting)\b",
    re.IGNORECASE,
)


def _followup_role(text: str) -> str:
    """Role of a unit of a reply that adds no request: chasing, thanking, or supplying info."""
    from backend.triage.signals import has_gratitude

    if _CHASER_WORDS.search(text):
        return "chaser"
    if has_gratitude(text) and len(text.split()) <= 25:
        return "thanks"
    return "info"


def training_examples_from_emails(emails: list[LabelledEmail]) -> list[TrainingExample]:
    """Examples a labelled mailbox teaches (what `tier0 train` learns from labels.jsonl files).

    * An email with one request: its whole new text (subject first) is that request's example.
    * An email with several: each request-bearing unit goes to the gold request whose summary it
      is most similar to (MiniLM cosine); each request's units form its example.
    * Every gold summary is an example of its request too (short, but labelled exactly).
    * A follow-up / thanks / the old-topic part of a followup_new teach the non-request roles:
      "thanks" for a bare thanks, "chaser" for status-chasing units, "info" for the rest.
    """
    from backend.triage.embeddings import shared_encoder
    from backend.triage.units import split_units, strip_list_marker

    encoder = shared_encoder()
    examples: list[TrainingExample] = []
    for message in emails:
        source = f"dev/{message.file}"
        units = [strip_list_marker(unit.text) or unit.text for unit in split_units(message.text).units]
        for request in message.requests:
            if request.summary:
                examples.append(TrainingExample(request.summary, "request", request.category,
                                                request.product_area, request.integration, source))
        if message.kind == "thanks":
            examples.extend(TrainingExample(text, "thanks", source=source) for text in units)
            continue
        if message.kind == "followup":
            examples.extend(TrainingExample(text, _followup_role(text), source=source) for text in units)
            continue
        if not message.requests or not units:
            continue
        if len(message.requests) == 1 and message.kind == "request":
            request = message.requests[0]
            text = "\n".join([message.subject, *units]) if message.subject else "\n".join(units)
            examples.append(TrainingExample(text, "request", request.category, request.product_area,
                                            request.integration, source))
            continue
        unit_vectors = encoder.encode(units)
        summary_vectors = encoder.encode([request.summary or request.category for request in message.requests])
        similarity = unit_vectors @ summary_vectors.T
        best = similarity.argmax(axis=1)
        threshold = 0.25  # a unit unlike every summary is context (greeting, background, old topic)
        for index, request in enumerate(message.requests):
            assigned = [units[u] for u in range(len(units)) if best[u] == index and similarity[u, index] >= threshold]
            if assigned:
                examples.append(TrainingExample("\n".join(assigned), "request", request.category,
                                                request.product_area, request.integration, source))
        if message.kind == "followup_new":
            for u, text in enumerate(units):
                if similarity[u].max() < threshold:
                    examples.append(TrainingExample(text, _followup_role(text), source=source))
    return examples


def load_training_examples(folder: Path, *, labels_path: Path | None = None) -> list[TrainingExample]:
    """Training examples from a labelled mailbox folder (`labels.jsonl` + `mail/`)."""
    return training_examples_from_emails(load_labelled_mailbox(folder, labels_path=labels_path))


def write_examples_jsonl(examples: list[TrainingExample], path: Path) -> None:
    """Write examples in the training-file format (`backend/triage/training/*.jsonl`)."""
    lines = []
    for example in examples:
        row: dict[str, object] = {"text": example.text, "role": example.role}
        if example.role == "request":
            row |= {"category": example.category, "product_area": example.product_area,
                    "integration": example.integration}
        row["source"] = example.source
        lines.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Labelled mailbox tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export-training", help="write a mailbox's training examples as JSONL")
    export.add_argument("mailbox", type=Path)
    export.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    examples = load_training_examples(args.mailbox)
    write_examples_jsonl(examples, args.out)
    print(f"{len(examples)} examples written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
