"""Where a reply leaves: an SMTP relay (`SmtpSender`, smtplib), the Gmail API (`GmailSender`), or a
folder of `.eml` files when nothing may be sent (`FolderSender`: the demo, a dry run).

Both send the exact bytes composed in message.py (so a retry sends the same message, with the
same Message-ID) and report failures as one `SendError` whose `outcome` says what we know:

  * `not_sent`: the server refused the message before taking it (connection refused, a 4xx/5xx
    to MAIL FROM, RCPT TO or DATA, a Gmail 4xx). Nothing was delivered; `retryable` says whether
    trying later can help (temporary 4xx SMTP codes, Gmail 429, connection failures).
  * `unknown`: the message may have been accepted (the connection broke after the message body
    was transmitted, a timeout waiting for the final reply, a Gmail 5xx or timeout). Never re-sent
    blindly: see outbox.py.

`find_sent(message_id)` asks the service whether a message with our Message-ID was sent: Gmail
can answer (`users.messages.list` with `q=rfc822msgid:<id>`, the search operator Gmail documents);
SMTP cannot (`can_look_up = False`), so an unknown SMTP outcome goes to a human.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from backend.sending.message import OutgoingMessage

logger = logging.getLogger(__name__)

SendOutcome = Literal["not_sent", "unknown"]


class SendError(Exception):
    def __init__(self, message: str, *, outcome: SendOutcome, retryable: bool) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retryable = retryable


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str | None = None
    provider_thread_id: str | None = None
    # The Message-ID the provider actually put on the message, when it differs from ours.
    actual_message_id: str | None = None


class ReplySender(Protocol):
    channel: str
    can_look_up: bool

    def send(self, message: OutgoingMessage) -> SendReceipt: ...

    def find_sent(self, message_id: str) -> SendReceipt | None: ...


SmtpSecurity = Literal["starttls", "ssl", "none"]


class SmtpSender:
    """Sends through an SMTP relay: MAIL FROM, RCPT TO and DATA issued one by one, so a failure is
    known to be before the message was handed over (`not_sent`) or after (`unknown`)."""

    channel = "smtp"
    can_look_up = False

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str | None = None,
        password: str | None = None,
        security: SmtpSecurity = "starttls",
        timeout: float = 30.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._security = security
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._ssl_context = ssl_context

    def _connect(self) -> smtplib.SMTP:
        context = self._ssl_context or ssl.create_default_context()
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout, context=context
            )
        smtp = smtplib.SMTP(self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout)
        smtp.ehlo()
        if self._security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        return smtp

    def send(self, message: OutgoingMessage) -> SendReceipt:
        try:
            smtp = self._connect()
        except smtplib.SMTPResponseException as error:
            raise _refused("connect", error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(
                f"SMTP connection to {self._host}:{self._port} failed: {error}", outcome="not_sent", retryable=True
            ) from error
        try:
            self._hand_over(smtp, message)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return SendReceipt()

    def _hand_over(self, smtp: smtplib.SMTP, message: OutgoingMessage) -> None:
        # Before DATA: any failure means the server has nothing.
        try:
            if self._username:
                smtp.login(self._username, self._password or "")
            code, reply = smtp.mail(message.envelope_from)
            if code != 250:
                raise _refused("MAIL FROM", code, reply)
            for recipient in message.recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    raise _refused(f"RCPT TO {recipient}", code, reply)
        except smtplib.SMTPResponseException as error:
            raise _refused("login", error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(
                f"SMTP failed before the message was sent: {error}", outcome="not_sent", retryable=True
            ) from error
        # DATA: refused with a code before or after the body -> not accepted (RFC 5321 4.2.5:
        # only 250 after the final "." means the server took responsibility for the message).
        try:
            code, reply = smtp.data(message.raw)
        except smtplib.SMTPDataError as error:  # the DATA command itself was refused (no 354)
            raise _refused("DATA", error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:  # OSError includes timeouts
            raise SendError(
                f"SMTP connection lost while sending the message ({error}): it may have been accepted",
                outcome="unknown",
                retryable=False,
            ) from error
        if code != 250:
            raise _refused("end of DATA", code, reply)

    def find_sent(self, message_id: str) -> SendReceipt | None:
        return None  # SMTP cannot tell whether an earlier attempt was accepted


def _refused(step: str, code: int, reply: bytes | str) -> SendError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    # RFC 5321 4.2.1: 4yz is a transient failure (try again later), 5yz a permanent one.
    return SendError(f"SMTP {step} refused: {code} {text}", outcome="not_sent", retryable=400 <= code < 500)


class GmailSender:
    """Sends through the Gmail API (`users.messages.send` with the raw message and the thread id).

    `service` is a googleapiclient Gmail resource (backend/mail/gmail_auth.py builds one; the
    `gmail.modify` scope it asks for allows sending). Gmail may replace a client's Message-ID;
    after sending, the message's own Message-ID header is read back (`users.messages.get`,
    format=metadata) so the id we register as ours is the one the customer's client will quote.
    """

    channel = "gmail"
    can_look_up = True

    def __init__(self, service: Any, *, user_id: str = "me", read_back_message_id: bool = True) -> None:
        self._service = service
        self._user_id = user_id
        self._read_back = read_back_message_id

    def send(self, message: OutgoingMessage) -> SendReceipt:
        from googleapiclient.errors import HttpError

        body: dict[str, Any] = {"raw": base64.urlsafe_b64encode(message.raw).decode("ascii")}
        if message.gmail_thread_id:
            body["threadId"] = message.gmail_thread_id
        try:
            sent = self._service.users().messages().send(userId=self._user_id, body=body).execute(num_retries=0)
        except HttpError as error:
            status = int(error.resp.status)
            if status >= 500:
                raise SendError(
                    f"Gmail answered {status}: the message may have been sent", outcome="unknown", retryable=False
                ) from error
            # 429: Gmail refused for rate limits and sent nothing; try later. Other 4xx: never.
            raise SendError(
                f"Gmail refused the message: {status} {_reason(error)}", outcome="not_sent", retryable=status == 429
            ) from error
        except (OSError, TimeoutError) as error:
            raise SendError(
                f"Gmail request failed ({error}): the message may have been sent", outcome="unknown", retryable=False
            ) from error
        receipt = SendReceipt(provider_message_id=sent.get("id"), provider_thread_id=sent.get("threadId"))
        if self._read_back and receipt.provider_message_id:
            actual = self._message_id_header(receipt.provider_message_id)
            if actual and actual != message.message_id:
                receipt = SendReceipt(receipt.provider_message_id, receipt.provider_thread_id, actual)
        return receipt

    def _message_id_header(self, gmail_id: str) -> str | None:
        from googleapiclient.errors import HttpError

        try:
            found = (
                self._service.users()
                .messages()
                .get(userId=self._user_id, id=gmail_id, format="metadata", metadataHeaders=["Message-ID"])
                .execute(num_retries=0)
            )
        except (HttpError, OSError, TimeoutError) as error:
            # The message is sent; only the read-back failed. Our From address still keeps the
            # customer's answer from looping back (backend/pipeline/process.py, own addresses).
            logger.warning("Gmail message %s sent; reading back its Message-ID failed: %s", gmail_id, error)
            return None
        for header in found.get("payload", {}).get("headers", []):
            if str(header.get("name", "")).lower() == "message-id":
                value = header.get("value")
                return str(value) if value else None
        return None

    def find_sent(self, message_id: str) -> SendReceipt | None:
        from googleapiclient.errors import HttpError

        try:
            found = (
                self._service.users()
                .messages()
                .list(userId=self._user_id, q=f"rfc822msgid:{message_id.strip('<>')}", includeSpamTrash=True)
                .execute(num_retries=0)
            )
        except (HttpError, OSError, TimeoutError) as error:
            logger.warning("Gmail lookup of %s failed: %s", message_id, error)
            return None
        messages = found.get("messages") or []
        if not messages:
            return None
        return SendReceipt(provider_message_id=messages[0].get("id"), provider_thread_id=messages[0].get("threadId"))


def _reason(error: Any) -> str:
    try:
        return str(error.reason)
    except Exception:  # pragma: no cover - googleapiclient always has a reason
        return ""


class FolderSender:
    """Writes each reply as an `.eml` file into a folder instead of sending it: the demo's channel
    and a dry run for a new deployment (read what would have gone out). Nothing leaves the machine.

    The file is named after the Message-ID, written to a temporary name and renamed, so a retry
    finds the finished file (`find_sent`) and never writes a second one."""

    channel = "folder"
    can_look_up = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: OutgoingMessage) -> SendReceipt:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self._path(message.message_id)
            partial = target.with_suffix(".partial")
            partial.write_bytes(message.raw)
            partial.replace(target)
        except OSError as error:
            raise SendError(
                f"cannot write the reply into {self.folder}: {error}", outcome="not_sent", retryable=True
            ) from error
        return SendReceipt(provider_message_id=target.name)

    def find_sent(self, message_id: str) -> SendReceipt | None:
        path = self._path(message_id)
        return SendReceipt(provider_message_id=path.name) if path.is_file() else None

    def _path(self, message_id: str) -> Path:
        # Message-IDs hold '@', '.', '-', '_' and alphanumerics in practice; anything else (a
        # path separator above all) is replaced so the name stays inside the folder.
        safe = "".join(ch if ch.isalnum() or ch in "@.-_" else "_" for ch in message_id.strip("<>"))
        return self.folder / f"{safe.lstrip('.') or 'reply'}.eml"
