"""Recognise mail that no person wrote to us: auto-replies, bounces, newsletters and spam.

The rules are the union of what mature helpdesks check (Zammad, Discourse, OTRS, Request Tracker,
Mailman's bounce detectors), in order of reliability:

1. **Headers** a machine sets. Bounces: ``multipart/report; report-type=delivery-status`` (RFC 3464),
   a ``message/delivery-status`` part, ``X-Failed-Recipients`` (Exim), Exchange's NDR markers, and a
   mailer-daemon/postmaster sender with a null Return-Path. Auto-replies: ``Auto-Submitted`` other
   than ``no`` (RFC 3834 §5), ``X-Autoreply``/``X-Autorespond`` (Gmail, cPanel, Sieve vacation),
   ``Precedence: auto_reply``, ``X-Loop``, and Exchange's ``X-Auto-Response-Suppress`` *together with*
   an inbox-rule loop marker (alone it is also set on ordinary Outlook mail: Discourse's
   ``quirks_exchange_xars`` fixture). Newsletters: ``List-Unsubscribe``/``List-Id`` (RFC 2369/2919),
   ``Precedence: bulk|list|junk``, campaign headers. Spam: ``X-Spam-Flag: YES``, ``X-Spam-Status: Yes``,
   Exchange SCL 5 or more.
2. **Subject prefixes** clients write on automatic replies ("Automatic reply:", "Out of Office:",
   "Abwesenheitsnotiz:", …) and on non-delivery reports ("Undeliverable:", "Mail delivery failed").
3. **Content**, only in the sender's own text (quoted history removed): the fixed phrasing of
   delivery-failure notices, ticket-system acknowledgements and out-of-office notices (multilingual),
   newsletter footers, and a conservative spam score (SEO and contact-list offers, crypto and prize
   lures, credential or payment phishing with a link to a look-alike domain).

A bounce beats an auto-reply (a bounce often carries ``Auto-Submitted`` too). Content rules need
several signals each, because flagging a customer's request is worse than missing a newsletter: a
person who writes "I'm out of the office next week, can you call Bob?" is asking for something.

Failures: none. This module reads a `ParsedEmail` and returns a verdict or None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from backend.mail.message import AutomatedVerdict, ParsedEmail
from backend.mail.reply import split_reply

# --------------------------------------------------------------------------------------------
# Bounce
# --------------------------------------------------------------------------------------------

_DAEMON_LOCALPART = re.compile(
    r"^(?:mailer-daemon|mailer_daemon|maildaemon|postmaster|post_master|mail-daemon|mdaemon|mail\.daemon|"
    r"bounce|bounces|mail-delivery|maildelivery|mailadmin|nobody-bounce|double-bounce)$",
    re.IGNORECASE,
)
_DAEMON_NAME = re.compile(
    r"mail\s*delivery\s*(?:subsystem|system|service)|mailer[- ]daemon|postmaster|mail\s+administrator|"
    r"delivery\s+status\s+notification|internet\s+mail\s+delivery|mail\s+system",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:"
    r"undeliverable|undelivered\s+mail|undeliverable\s+mail|returned\s+mail|return(?:ed)?\s+to\s+sender|"
    r"(?:mail\s+|e-?mail\s+|message\s+)?delivery\s+(?:status\s+notification|failed|failure|system|subsystem|"
    r"notification|report|problem|warning|error|delayed|delay)|"
    r"(?:permanent|temporary|fatal)\s+delivery\s+(?:failure|error)|failure\s+notice|mail\s+failed|"
    r"mail\s+error|failed\s+mail|complaint\s+about\s+message\s+from|abuse\s+report|"
    r"message\s+(?:not\s+delivered|delivery\s+failed|could\s+not\s+be\s+delivered|undeliverable)|"
    r"non[- ]?delivery|nondeliverable|mail\s+system\s+error|warning:\s+(?:could\s+not|message)|"
    r"could\s+not\s+send\s+message|delayed\s+mail|mail\s+could\s+not\s+be\s+delivered|"
    r"unzustellbar|nicht\s+zustellbar|non\s+remis|non\s+distribuable|échec\s+de\s+(?:la\s+)?remise|"
    r"no\s+se\s+puede\s+entregar|no\s+entregado|não\s+(?:foi\s+)?entregue|impossibile\s+recapitare|"
    r"onbestelbaar|kan\s+niet\s+worden\s+bezorgd|kunde\s+inte\s+levereras|olevererbart|"
    r"kan\s+ikke\s+leveres|ikke\s+levert|nie\s+dostarczono|недоставлено|не\s+доставлено|"
    r"配信不能|无法投递|退信|系统退信|邮件传输失败|投递失败|无法送达|メールエラー|送信できませんでした"
    r")",
    re.IGNORECASE,
)
# Phrases only delivery software writes (Postfix, Sendmail, Exim, qmail, Exchange, Gmail, Lotus, …).
_BOUNCE_TEXT_STRONG = re.compile(
    r"this\s+is\s+the\s+mail\s+(?:system|delivery\s+agent)\s+at\s+host|"
    r"this\s+is\s+the\s+[\w .-]{0,40}(?:mail\s+agent|mail\s+system|mailer|mta)\b[\w .-]{0,20}\s+at\s+\S|"
    r"non-delivery\s+report|could\s+not\s+be\s+delivered\s+to\s+the\s+following\s+recipients?|"
    r"did\s+not\s+reach\s+the\s+following\s+recipient|there\s+was\s+an\s+error\s+delivering\s+your\s+mail|"
    r"had\s+permanent\s+fatal\s+(?:delivery\s+)?errors|"
    r"mail\s+delivery\s+software|"
    r"this\s+is\s+an\s+automatically\s+generated\s+delivery\s+status\s+notification|"
    r"delivery\s+has\s+failed\s+to\s+these\s+recipients|"
    r"the\s+following\s+addresses\s+had\s+permanent\s+fatal\s+errors|"
    r"delivery\s+to\s+the\s+following\s+recipients?\s+(?:failed|has\s+been\s+delayed|was\s+delayed)|"
    r"i'm\s+sorry\s+to\s+have\s+to\s+inform\s+you\s+that\s+your\s+message\s+could\s+not|"
    r"this\s+is\s+a\s+permanent\s+error\.?\s+the\s+following\s+address|"
    r"this\s+is\s+the\s+qmail-send\s+program|"
    r"your\s+message\s+(?:did\s+not\s+reach|wasn't\s+delivered\s+to|couldn't\s+be\s+delivered\s+to)|"
    r"message\s+(?:could\s+not\s+be|was\s+not|wasn't)\s+delivered\s+to\s+(?:one\s+or\s+more|the\s+following)|"
    r"could\s+not\s+be\s+delivered\s+to\s+one\s+or\s+more\s+recipients|"
    r"the\s+original\s+message\s+was\s+received\s+at\s|"
    r"unable\s+to\s+deliver\s+(?:your\s+)?message\s+to\s+the\s+following|"
    r"(?:^|\n)\s*(?:final-recipient|original-recipient|diagnostic-code)\s*:\s*\S|"
    r"(?:^|\n)\s*action\s*:\s*(?:failed|delayed)\s*(?:\n|$)|"
    r"(?:^|\n)\s*status\s*:\s*[45]\.\d{1,3}\.\d{1,3}|"
    r"\b(?:550|551|552|553|554)[ -]5\.\d\.\d{1,2}\b|smtp\s+error\s+code\s+5\d\d|"
    r"(?:^|\n)[\s-]*failed\s+recipients?\s*(?::|-{2,})|"
    r"could\s+not\s+deliver\s+(?:the\s+)?message\s+to\s+the\s+following\s+recipient",
    re.IGNORECASE,
)
# SMTP error wording and weaker phrasing: a person can write these too ("the texts could not be
# delivered", "the customer's mailbox is full"), so they count only with a machine sender.
_BOUNCE_TEXT_WEAK = re.compile(
    r"recipient\s+address\s+rejected|user\s+unknown|user\s+not\s+found|invalid\s+mailbox|"
    r"mailbox\s+(?:is\s+)?(?:unavailable|full|not\s+found|does\s+not\s+exist)|"
    r"no\s+such\s+(?:user|recipient|mailbox)|quota\s+exceeded|over\s+quota|"
    r"retry\s+timeout\s+exceeded|message\s+expired|host\s+unknown|unrouteable\s+address|"
    r"could\s+not\s+be\s+delivered|undeliverable|was\s+not\s+delivered|delivery\s+(?:failed|failure)|"
    r"permanent(?:ly)?\s+(?:failed|error)|returned\s+to\s+sender|rejected\s+your\s+message|"
    r"has\s+not\s+been\s+delivered|delivery\s+(?:is\s+)?delayed|will\s+retry|unable\s+to\s+deliver|"
    r"fatal\s+(?:delivery\s+)?errors?|error\s+delivering|postponed|full\s+mailbox|mailbox\s+is\s+full|"
    r"did\s+not\s+reach|無法送達|无法送达|无法发送|送信できませんでした",
    re.IGNORECASE,
)

# --------------------------------------------------------------------------------------------
# Auto-reply
# --------------------------------------------------------------------------------------------

# Subject prefixes that mail clients and servers write on automatic replies ("Automatic reply: Re: …").
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:"
    r"auto(?:matic|matische|matiskt|matisk|matico|mática|matica)?[\s_-]*(?:reply|response|respuesta|antwort|"
    r"svar|risposta|resposta|antwoord|odpowiedź|ответ|répons)|"
    r"auto\s*:|autoreply|auto-reply|autoresponder|ooo\s*:|"
    r"réponse\s+automatique|respuesta\s+automática|risposta\s+automatica|automatisch\s+antwoord|"
    r"automatiskt\s+svar|automatisk\s+svar|autosvar|odpowiedź\s+automatyczna|resposta\s+automática|"
    r"автоматический\s+ответ|автоответ|automaattinen\s+vastaus|automatická\s+odpověď|automatikus\s+válasz|"
    r"otomatik\s+(?:yanıt|cevap)|automātiskā\s+atbilde|automatiska\s+atbilde|自動返信|自动回复|"
    r"abwesenheitsnotiz|out\s+of\s+(?:the\s+)?office\s*:|vacation\s*(?::|reply|notice|message)"
    r")",
    re.IGNORECASE,
)
# Absence words at the start of a subject ("Out of office until 9/28", "Abwesend", "Fuera de la oficina").
# A customer may also start a subject this way ("Out of office greeting for the holidays", "Absence of
# texts since Monday"), so these count only when the text does not ask for anything.
_ABSENCE_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:"
    r"out\s+of\s+(?:the\s+)?office|away\s+from\s+(?:the\s+)?office|on\s+vacation|on\s+leave|"
    r"abwesend|außer\s+haus|nicht\s+im\s+büro|absence\s+du\s+bureau|absent(?:e)?\s+du\s+bureau|"
    r"fuera\s+de\s+(?:la\s+)?oficina|ausente|fuori\s+(?:sede|ufficio)|afwezig|niet\s+aanwezig|frånvar|"
    r"fraværende|ikke\s+på\s+kontoret|poza\s+biurem|nieobecność|fora\s+do\s+escritório|нет\s+на\s+месте|"
    r"poissa\s+toimistosta|mimo\s+kancelář|házon\s+kívül|ofis\s+dışında|ārpus\s+biroja|arpus\s+biroja|"
    r"atvaļinājum|atvalinajum|不在"
    r")",
    re.IGNORECASE,
)
# Out-of-office phrasing (first person, absence + return), multilingual.
_OOO_TEXT = re.compile(
    r"\b(?:i\s+am|i'm|i\s+will\s+be|i'll\s+be|we\s+are|we're|currently)\s+(?:currently\s+)?"
    r"(?:out\s+of\s+(?:the\s+)?office|away\s+from\s+(?:the|my)\s+(?:office|desk|shop|store|email)|"
    r"on\s+(?:annual\s+|maternity\s+|paternity\s+|parental\s+|sick\s+|medical\s+|holiday\s+)?(?:vacation|leave|holiday)|"
    r"off\s+(?:work|island|site)|travel+ing|out\s+(?:until|through)|away\s+(?:until|through))|"
    r"\bout\s+of\s+(?:the\s+)?office\s+(?:until|through|from|on|and|with)\b|"
    r"limited\s+(?:access\s+to\s+(?:e-?mail|my\s+e-?mail)|e-?mail\s+access)|"
    r"(?:no|without)\s+access\s+to\s+(?:e-?mail|my\s+e-?mail)|"
    r"(?:won't|will\s+not)\s+be\s+(?:checking|reading|monitoring)\s+(?:my\s+)?e-?mails?|"
    r"(?:respond|reply|get\s+back\s+to\s+you)\s+(?:to\s+your\s+(?:e-?mail|message)\s+)?(?:when|upon|after)\s+(?:i|my)\s+return|"
    r"\bis\s+no\s+longer\s+(?:with|employed|working)\b|this\s+(?:mailbox|e-?mail\s+address|inbox)\s+is\s+(?:no\s+longer|not)\s+"
    r"(?:monitored|active|in\s+use)|"
    r"\bich\s+bin\s+(?:bis|vom|ab|derzeit|zurzeit|momentan)?.{0,40}\b(?:abwesend|nicht\s+im\s+büro|im\s+urlaub)|"
    r"\bje\s+suis\s+(?:actuellement\s+)?(?:absent|absente|en\s+congés?|en\s+vacances)|"
    r"\bestoy\s+(?:fuera\s+de\s+la\s+oficina|de\s+vacaciones|ausente)|"
    r"\bsono\s+(?:fuori\s+(?:sede|ufficio)|in\s+ferie|assente)|"
    r"\bik\s+ben\s+(?:afwezig|met\s+vakantie|niet\s+aanwezig|op\s+vakantie)|"
    r"\bjag\s+är\s+(?:på\s+semester|ledig|inte\s+på\s+kontoret|borta)|"
    r"\bjeg\s+er\s+(?:på\s+ferie|ikke\s+på\s+kontoret|fraværende|ude\s+af\s+huset)|"
    r"\bjestem\s+(?:na\s+urlopie|poza\s+biurem|nieobecn[ya])|"
    r"\bestou\s+(?:fora\s+do\s+escritório|de\s+férias|ausente)|"
    r"\bя\s+(?:в\s+отпуске|нахожусь\s+в\s+отпуске|отсутствую)|"
    r"\b(?:esmu\s+atvaļinājumā|atrodos\s+atvaļinājumā)",
    re.IGNORECASE,
)
_RETURN_TEXT = re.compile(
    r"\b(?:until|through|thru|till|back\s+(?:in\s+the\s+office\s+)?on|back\s+in|return(?:ing)?\s+on|return\s+in|"
    r"will\s+return|when\s+i\s+(?:return|am\s+back|get\s+back)|from\s+\w+\s+\d|bis\s+(?:zum|einschließlich)?|"
    r"jusqu'au|hasta\s+el|fino\s+al|tot\s+en\s+met|t\.?o\.?m\.?|till\s+och\s+med|frem\s+til|do\s+dnia|até|до)\b",
    re.IGNORECASE,
)
# Ticket systems and shared mailboxes acknowledging a message.
_ACK_TEXT = re.compile(
    r"this\s+is\s+an\s+(?:automated|automatic|auto-generated|automatically\s+generated)\s+"
    r"(?:message|response|reply|e-?mail|notification|acknowledg)|"
    r"(?:we|i)\s+(?:have|'ve)\s+received\s+your\s+(?:request|e-?mail|message|enquiry|inquiry|ticket|case)|"
    r"your\s+(?:request|e-?mail|message|enquiry|inquiry)\s+has\s+been\s+(?:received|logged|added\s+to\s+ticket)|"
    r"your\s+e-?mail\s+has\s+been\s+added\s+to\s+(?:ticket|case|request)|"
    r"(?:ticket|case|request)\s+(?:#|number|no\.?|id)\s*:?\s*[\w-]*\d[\w-]*\s+has\s+been\s+(?:created|opened|received|updated)|"
    r"a\s+(?:ticket|case)\s+has\s+been\s+(?:created|opened)|"
    r"thank\s+you\s+for\s+(?:contacting|your\s+(?:e-?mail|message|inquiry|enquiry))\b.{0,200}"
    r"(?:will\s+(?:respond|reply|get\s+back|be\s+in\s+touch|contact\s+you)|respond\s+within|"
    r"(?:reply|respond)\s+(?:as\s+soon\s+as|within)|business\s+(?:day|hours))|"
    r"this\s+mailbox\s+is\s+monitored|please\s+do\s+not\s+reply\s+to\s+this\s+(?:e-?mail|message)|"
    r"(?:do\s+not|don't)\s+reply\s+to\s+this\s+(?:automated\s+)?(?:e-?mail|message)",
    re.IGNORECASE | re.DOTALL,
)

# --------------------------------------------------------------------------------------------
# Newsletter
# --------------------------------------------------------------------------------------------

# Footer lines that bulk-mail software adds; a person does not write these about their own mail.
_NEWSLETTER_FOOTER = re.compile(
    r"view\s+(?:this\s+(?:e-?mail|message|newsletter)\s+)?(?:in|on)\s+(?:your|a|the)\s+(?:web\s+)?browser|"
    r"you\s+(?:are\s+)?receiv(?:ed|ing)\s+this\s+(?:e-?mail|message|newsletter)?\s*because|"
    r"(?:manage|update)\s+(?:your\s+)?(?:e-?mail\s+|subscription\s+|communication\s+)?preferences|"
    r"to\s+stop\s+receiving\s+(?:these|this|our)|no\s+longer\s+wish\s+to\s+receive\s+(?:these|our|this)|"
    r"(?:^|\n)\s*(?:unsubscribe|abmelden|se\s+désinscrire|darse\s+de\s+baja|afmelden|avregistrera)\s*(?:\||$|\n|:)|"
    r"click\s+here\s+to\s+unsubscribe|unsubscribe\s+(?:here|from\s+(?:this|these|our)\s+(?:list|e-?mails|newsletter))",
    re.IGNORECASE,
)
_CAMPAIGN_HEADERS = (
    "x-campaign", "x-campaignid", "x-campaign-id", "x-mailchimp-campaign", "x-mc-user", "x-mailgun-campaign-id",
    "x-sfmc-stack", "x-ems-campaign", "x-mailjet-campaign", "x-sg-eid", "x-newsletter", "x-bulkmail",
)

# --------------------------------------------------------------------------------------------
# Spam (scored, conservative)
# --------------------------------------------------------------------------------------------

_SPAM_SIGNALS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "search-engine ranking offer",
        re.compile(
            r"(?:first|1st|top)\s+page\s+(?:of|on|in)\s+google|(?:rank|ranking|position)\s+(?:on|in)\s+google|"
            r"white[- ]hat\s+(?:seo|methods|techniques)|backlinks?|search\s+engine\s+optimi[sz]ation\s+services",
            re.I,
        ),
        3,
    ),
    ("SEO mention", re.compile(r"\bseo\b|google\s+my\s+business", re.I), 1),
    (
        "marketing service pitch",
        re.compile(
            r"website\s+(?:re)?design|digital\s+marketing|affordable\s+price|our\s+packages|price\s+list|"
            r"increase\s+your\s+(?:traffic|sales|leads|revenue)|lead\s+generation\s+services?|"
            r"outsourc(?:e|ing)\s+(?:your|to\s+us)|(?:we|our\s+team)\s+(?:are|is)\s+a\s+team\s+of\s+\d+",
            re.I,
        ),
        1,
    ),
    (
        "contact-list sale",
        re.compile(
            r"acquir\w*\s+an?\s+(?:e-?mail|contact|mailing)\s+list|"
            r"purchas\w*\s+(?:an?\s+)?(?:e-?mail|contact|mailing)\s+list|"
            r"verified\s+(?:contacts|e-?mails|e-?mail\s+addresses)|counts,?\s+(?:a\s+)?samples?\s+and\s+pricing|"
            r"(?:e-?mail|contact|mailing)\s+list\s+of\s+.{0,40}decision[- ]makers|"
            r"decision[- ]makers?\s+(?:e-?mail\s+)?list",
            re.I,
        ),
        3,
    ),
    (
        "contact counts",
        re.compile(r"\b\d{1,3}(?:,\d{3})+\s+(?:verified\s+)?(?:contacts|records|e-?mails|leads)\b", re.I),
        1,
    ),
    (
        "opt-out by reply",
        re.compile(
            r"reply\s+with\s+[\"'“]?(?:remove|stop|unsubscribe|leave\s+out|no|not\s+interested)[\"'”]?|"
            r"if\s+you\s+(?:are|were)\s+not\s+interested|if\s+you\s+do\s+not\s+wish\s+to\s+receive\s+further|"
            r"[\"'“](?:leave\s+out|remove)[\"'”]\s+in\s+the\s+subject",
            re.I,
        ),
        1,
    ),
    (
        "link-building offer",
        re.compile(r"guest\s+post|sponsored\s+(?:post|article)|link\s+insertion|do-?follow\s+links?", re.I),
        2,
    ),
    (
        "funding offer",
        re.compile(
            r"business\s+(?:funding|loans?|line\s+of\s+credit)|working\s+capital|merchant\s+cash\s+advance",
            re.I,
        ),
        2,
    ),
    ("unsolicited approval", re.compile(r"pre-?approved\s+for\s+(?:up\s+to\s+)?\$", re.I), 1),
    (
        "outsourcing pitch",
        re.compile(
            r"(?:mobile\s+)?app\s+development\s+(?:services|company)|hire\s+(?:dedicated\s+)?developers|"
            r"offshore\s+(?:development|team|staff)|virtual\s+assistants?\s+(?:services|for\s+your)",
            re.I,
        ),
        1,
    ),
    (
        "gift-card purchase",
        re.compile(
            r"(?:buy|purchase|get)\s+(?:some\s+)?(?:apple|google\s+play|amazon|itunes|steam|visa)?\s*gift\s*cards?",
            re.I,
        ),
        2,
    ),
    (
        "urgency and secrecy",
        re.compile(
            r"are\s+you\s+available\s+(?:right\s+now|now)?\s*\?\s*i\s+need\s+(?:a|you)|"
            r"keep\s+(?:this|it)\s+(?:between\s+us|confidential)",
            re.I,
        ),
        2,
    ),
    (
        "document-share lure",
        re.compile(
            r"shared\s+(?:a|an|the)\s+(?:document|file|folder|pdf)s?\s+with\s+you|review\s+and\s+sign|"
            r"secure\s+(?:document|message|fax)\s+(?:portal|waiting|received)|you\s+have\s+(?:a\s+)?new\s+"
            r"(?:secure\s+)?(?:document|fax)",
            re.I,
        ),
        2,
    ),
    (
        "crypto lure",
        re.compile(
            r"\b(?:btc|bitcoin|ethereum|usdt|crypto(?:currency)?\s+wallet|wallet\s+address|"
            r"bc1[a-z0-9]{20,}|0x[a-f0-9]{40})\b",
            re.I,
        ),
        2,
    ),
    (
        "prize or inheritance lure",
        re.compile(
            r"you\s+(?:have\s+)?won|lottery|claim\s+your\s+(?:prize|reward|funds)|inheritance|next\s+of\s+kin|"
            r"beneficiary\s+of|(?:million|billion)\s+(?:usd|us\s+dollars|dollars|euros)|gift\s+card\s+reward",
            re.I,
        ),
        3,
    ),
    (
        "credential lure",
        re.compile(
            r"verify\s+your\s+(?:account|identity|e-?mail\s+account|password)|confirm\s+your\s+(?:account|password|identity)|"
            r"secure\s+your\s+account|(?:account|mailbox)\s+(?:will\s+be\s+)?(?:suspended|deactivated|closed)|"
            r"avoid\s+(?:suspension|deactivation)|sign\s+in\s+with\s+your\s+e-?mail\s+(?:account|password)|"
            r"unusual\s+(?:sign-?in|activity)|password\s+(?:expires|will\s+expire)|"
            r"cancel\s+it\s+immediately|if\s+you\s+did\s+not\s+request\s+this\s+withdrawal",
            re.I,
        ),
        2,
    ),
    (
        "payment-diversion lure",
        re.compile(
            r"(?:bank|banking|remittance|payment)\s+(?:details|information|account)\s+(?:have|has)\s+changed|"
            r"updated\s+(?:bank|remittance|payment)\s+details|payments?\s+sent\s+to\s+the\s+old\s+account|"
            r"final\s+notice|past\s+due|overdue\s+invoice",
            re.I,
        ),
        2,
    ),
)
_SPAM_THRESHOLD = 4
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)


def _header(email: ParsedEmail, name: str) -> str:
    return (email.header(name) or "").strip()


def _domain(address: str | None) -> str:
    return address.rsplit("@", 1)[-1].lower() if address and "@" in address else ""


# Public suffixes with two labels (enough to keep "dealer.cdk.com.au" from looking nested).
_TWO_LABEL_SUFFIXES = frozenset(
    {"co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "com.br", "com.mx", "co.jp",
     "co.za", "com.sg", "com.ar", "com.tr", "co.in", "co.kr", "com.cn", "com.hk", "com.tw"}
)
_TLD_LIKE = frozenset({"com", "net", "org", "example", "info", "biz", "io", "co", "us", "online", "site"})


def _registered_domain(host: str) -> str:
    """The registrable part of a host name (last two labels, three under a two-label public suffix)."""
    labels = [label for label in host.lower().strip(".").split(".") if label]
    if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _link_hosts(texts: Iterable[str]) -> set[str]:
    hosts: set[str] = set()
    for text in texts:
        for url in _URL.findall(text):
            host = urlsplit(url).hostname
            if host:
                hosts.add(host.lower())
    return hosts


def _html_links(html: str | None) -> list[str]:
    if not html:
        return []
    return re.findall(r"href\s*=\s*[\"']?(https?://[^\"'\s>]+)", html, flags=re.I)


def _sender_is_daemon(email: ParsedEmail) -> bool:
    local = (email.from_address or "").split("@", 1)[0]
    return bool(_DAEMON_LOCALPART.match(local) or _DAEMON_NAME.search(email.from_name or ""))


def _return_path_is_daemon(email: ParsedEmail) -> bool:
    value = (email.header("Return-Path") or "").strip().strip("<>")
    return bool(_DAEMON_LOCALPART.match(value.split("@", 1)[0])) if value else False


def _null_return_path(email: ParsedEmail) -> bool:
    # Only the outermost Return-Path counts: an attached original message carries its own.
    value = email.header("Return-Path")
    return value is not None and value.replace(" ", "") in ("<>", "")


def _content_type(email: ParsedEmail) -> str:
    return _header(email, "Content-Type").lower()


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def _bounce_by_headers(email: ParsedEmail) -> str | None:
    content_type = _content_type(email)
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return "Content-Type multipart/report; report-type=delivery-status (RFC 3464 DSN)"
    if "multipart/report" in content_type and "feedback-report" in content_type:
        return "Content-Type multipart/report; report-type=feedback-report (RFC 5965 abuse report)"
    if any(a.content_type in ("message/delivery-status", "message/global-delivery-status") for a in email.attachments):
        return "a message/delivery-status part (RFC 3464 DSN)"
    if any(a.content_type == "message/feedback-report" for a in email.attachments):
        return "a message/feedback-report part (RFC 5965 abuse report)"
    if email.header("X-Failed-Recipients"):
        return "header X-Failed-Recipients"
    if email.header("X-MS-Exchange-Message-Is-Ndr") is not None:
        return "header X-MS-Exchange-Message-Is-Ndr (Exchange non-delivery report)"
    local = (email.from_address or "").split("@", 1)[0].lower()
    if local in ("mailer-daemon", "mailer_daemon", "maildaemon", "mail-daemon", "mdaemon"):
        return f"sender {email.from_address} (the mail system's own mailbox)"
    if _DAEMON_NAME.search(email.from_name or "") and (
        _null_return_path(email) or _BOUNCE_SUBJECT.match(email.subject)
    ):
        return f"sender {email.from_name!r} with a null Return-Path or a delivery-failure subject"
    return None


def _bounce_by_content(email: ParsedEmail, text: str) -> str | None:
    subject_says = bool(_BOUNCE_SUBJECT.match(email.subject))
    # A mail system sent it: a daemon mailbox, or the null / daemon envelope sender of RFC 5321 §4.5.5.
    machine_sender = _sender_is_daemon(email) or _null_return_path(email) or _return_path_is_daemon(email)
    machine_like = _is_machine_like(email) or bool(_MACHINE_NOTICE.search(text))
    strong = _BOUNCE_TEXT_STRONG.search(text)
    if strong and (subject_says or machine_like):
        return f"delivery-failure text {strong.group(0).strip()[:60]!r}"
    if subject_says and machine_sender:
        return f"delivery-failure subject {email.subject[:60]!r} from a mail system"
    weak = _BOUNCE_TEXT_WEAK.search(text)
    if weak and (machine_sender or (subject_says and machine_like)):
        return f"delivery-failure text {weak.group(0)!r} from a mail system"
    return None


def _is_machine_like(email: ParsedEmail) -> bool:
    """Sender or headers that suggest software wrote the mail (used to confirm content rules)."""
    local = (email.from_address or "").split("@", 1)[0].lower()
    if _sender_is_daemon(email) or _null_return_path(email) or _return_path_is_daemon(email):
        return True
    if re.match(r"^(?:no-?reply|do-?not-?reply|donotreply|notifications?|alerts?|system|daemon|root)\b", local):
        return True
    auto_submitted = _header(email, "Auto-Submitted").lower()
    return bool(auto_submitted) and not auto_submitted.startswith("no")


# Notices software puts in what it sends.
_MACHINE_NOTICE = re.compile(
    r"(?:this\s+is\s+an?|an)\s+(?:automated|automatic|automatically\s+generated|advisory-only|"
    r"auto-generated)\s+(?:message|e-?mail|notification|notice|reply|response)|"
    r"(?:please\s+)?do\s+not\s+reply\s+to\s+(?:this|it)|this\s+(?:message|e-?mail)\s+was\s+"
    r"(?:generated|sent)\s+automatically",
    re.IGNORECASE,
)


def _auto_reply_by_headers(email: ParsedEmail) -> str | None:
    auto_submitted = _header(email, "Auto-Submitted")
    if auto_submitted and not auto_submitted.lower().startswith("no"):
        return f"header Auto-Submitted: {auto_submitted[:40]} (RFC 3834)"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply", "X-AutoReply-From",
                 "X-Mail-Autoreply", "X-Vacation", "X-Autogenerated"):
        value = email.header(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return f"header {name}: {value.strip()[:40]}"
    for name in ("Precedence", "X-Precedence"):
        value = _header(email, name).lower()
        if value in ("auto_reply", "auto-reply", "autoreply"):
            return f"header {name}: {value}"
    # Mailing lists set X-Loop on every post too; there it means "list traffic", decided below.
    if email.header("X-Loop") is not None and not _is_list_traffic(email):
        return "header X-Loop (set by auto-responders and helpdesks to stop mail loops)"
    suppress = _header(email, "X-Auto-Response-Suppress")
    if suppress and email.header("X-MS-Exchange-Inbox-Rules-Loop") is not None:
        return "headers X-Auto-Response-Suppress with X-MS-Exchange-Inbox-Rules-Loop (Exchange inbox-rule reply)"
    return None


def _is_list_traffic(email: ParsedEmail) -> bool:
    list_headers = ("List-Id", "List-Unsubscribe", "List-Post", "Mailing-List", "X-Mailing-List")
    if any(email.header(name) for name in list_headers):
        return True
    return _header(email, "Precedence").lower() in ("bulk", "list", "junk")


def _auto_reply_by_subject(email: ParsedEmail, text: str) -> str | None:
    match = _AUTO_REPLY_SUBJECT.match(email.subject)
    if match:
        return f"subject prefix {match.group(0).strip()[:40]!r}"
    match = _ABSENCE_SUBJECT.match(email.subject)
    if match and (not _asks_something(text) or _OOO_TEXT.search(text)):
        return f"subject {match.group(0).strip()[:40]!r} and a text that asks for nothing"
    return None


def _auto_reply_by_content(email: ParsedEmail, text: str) -> str | None:
    words = len(re.findall(r"\w+", text))
    asks = _asks_something(text)
    ooo = _OOO_TEXT.search(text)
    if ooo and words <= 220 and not asks and (_RETURN_TEXT.search(text) or _is_machine_like(email)):
        return f"out-of-office text {ooo.group(0).strip()[:50]!r}"
    if ooo and "no longer" in ooo.group(0).lower() and words <= 150 and not asks:
        return f"departed-employee notice {ooo.group(0).strip()[:50]!r}"
    ack = _ACK_TEXT.search(text)
    if ack and words <= 300:
        machine = _is_machine_like(email) or email.header("X-MS-Exchange-Inbox-Rules-Loop") is not None
        automated_phrase = re.search(r"automat|do\s+not\s+reply|don't\s+reply", ack.group(0), re.I)
        if machine or automated_phrase or not asks:
            return f"acknowledgement text {ack.group(0).strip()[:50]!r}"
    return None


_QUESTION = re.compile(
    r"\?|\b(?:can|could|would|will)\s+(?:you|someone|somebody|your\s+team)\b|\bplease\s+(?:fix|check|look|help|"
    r"change|update|add|remove|confirm|send|let\s+me\s+know|advise|call\s+me)|\bi\s+need\b|\bwe\s+need\b|"
    r"\bnot\s+working\b|\bbroken\b|\berror\b|\bissue\b|\bproblem\b",
    re.IGNORECASE,
)


def _asks_something(text: str) -> bool:
    """Does the text ask us for anything? (Out-of-office notices say "please contact X" - that is not asking us.)"""
    cleaned = re.sub(r"please\s+(?:contact|call|reach|email|e-mail|text)\b[^.\n]*", " ", text, flags=re.I)
    cleaned = re.sub(r"for\s+(?:anything\s+)?urgent[^.\n]*", " ", cleaned, flags=re.I)
    return bool(_QUESTION.search(cleaned))


def _newsletter_by_headers(email: ParsedEmail) -> str | None:
    if email.header("List-Unsubscribe"):
        return "header List-Unsubscribe (RFC 2369)"
    if email.header("List-Id"):
        return "header List-Id (RFC 2919)"
    for name in ("Precedence", "X-Precedence"):
        value = _header(email, name).lower()
        if value in ("bulk", "list", "junk"):
            return f"header {name}: {value}"
    for name in _CAMPAIGN_HEADERS:
        if email.header(name):
            return f"bulk-mail header {name}"
    mailer = _header(email, "X-Mailer").lower()
    if re.search(r"mailchimp|campaign\s*monitor|sendinblue|brevo|klaviyo|constant\s*contact|hubspot|marketo|"
                 r"pardot|mailerlite|sendgrid\s+marketing|acoustic|exacttarget|salesforce\s+marketing", mailer):
        return f"bulk mailer {mailer[:40]}"
    return None


def _newsletter_by_content(email: ParsedEmail, own_text: str) -> str | None:
    hits = {m.group(0).strip().lower() for m in _NEWSLETTER_FOOTER.finditer(own_text)}
    if len(hits) >= 2 and not _asks_something(own_text):
        return f"newsletter footer ({', '.join(sorted(hits))[:80]})"
    return None


def _spam_by_headers(email: ParsedEmail) -> str | None:
    if "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X" in email.body_text:
        return "GTUBE anti-spam test string"
    if _header(email, "X-Spam-Flag").lower().startswith("yes"):
        return "header X-Spam-Flag: YES"
    if _header(email, "X-Spam-Status").lower().startswith("yes"):
        return "header X-Spam-Status: Yes"
    if _header(email, "X-Spam").lower() in ("yes", "true", "spam"):
        return "header X-Spam: yes"
    scl = _header(email, "X-MS-Exchange-Organization-SCL")
    if scl.lstrip("-").isdigit() and int(scl) >= 5:
        return f"header X-MS-Exchange-Organization-SCL: {scl} (Exchange spam confidence)"
    return None


def _spam_by_content(email: ParsedEmail, own_text: str) -> str | None:
    score = 0
    reasons: list[str] = []
    for label, pattern, weight in _SPAM_SIGNALS:
        if pattern.search(own_text) or pattern.search(email.subject):
            score += weight
            reasons.append(label)
    mismatch = _lookalike_links(email, own_text)
    if mismatch:
        score += 2
        reasons.append(f"link to {mismatch} unrelated to the sender's domain")
    if re.match(r"^\s*re\s*:", email.subject, re.I) and not email.in_reply_to and not email.references:
        score += 1
        reasons.append("'Re:' subject without any reply headers")
    if not reasons or score < _SPAM_THRESHOLD:
        return None
    # A customer who reports spam or phishing quotes it and asks us something; that is a request.
    if _reports_abuse(own_text):
        return None
    return f"spam score {score} ({'; '.join(reasons)})"


def _reports_abuse(text: str) -> bool:
    return bool(
        re.search(r"\b(?:phishing|scam|spam|suspicious)\b", text, re.I)
        and re.search(r"\b(?:we|our|i|my)\b.{0,60}\b(?:received|got|clicked|reported|blocked)\b", text, re.I)
    )


def _lookalike_links(email: ParsedEmail, text: str) -> str | None:
    """A link host that embeds another brand or differs from the sender's registered domain.

    Phishing points at hosts like ``brand.example.evil-docs.example``: the sender's (or a brand's)
    name appears in the host, but the registered domain is someone else's.
    """
    sender = _registered_domain(_domain(email.from_address))
    hosts = _link_hosts([text]) | {urlsplit(u).hostname or "" for u in _html_links(email.body_html)}
    hosts.discard("")
    for host in sorted(hosts):
        registered = _registered_domain(host)
        if registered == sender:
            continue
        prefix = host[: -len(registered)].strip(".").split(".") if host != registered else []
        # "brand.example.evil.example": a whole domain name sits in front of the registered domain.
        nested = any(label in _TLD_LIKE for label in prefix)
        # "verify-account-now.example": the registered name itself is a lure.
        lure_name = re.search(r"verify|secure|login|signin|account|wallet|update-?info", registered.split(".")[0])
        if nested or lure_name:
            return host
    return None


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def detect_automated(email: ParsedEmail, reply_text: str | None = None) -> AutomatedVerdict | None:
    """The kind of machine-written mail this is, with the rule that decided it, or None for a person.

    `reply_text` is the sender's new text (from `split_reply`); content rules read only that (plus
    the signature block, where newsletter footers live), never the quoted history.
    """
    parts = split_reply(email.body_text, html=email.body_html)
    text = reply_text if reply_text is not None else parts.reply_text
    own_text = f"{text}\n{parts.signature}".strip()
    full_text = email.body_text  # delivery reports quote the original: machine phrasing may sit anywhere

    reason = _bounce_by_headers(email) or _bounce_by_content(email, full_text)
    if reason:
        return AutomatedVerdict("bounce", reason)
    reason = _spam_by_headers(email)
    if reason:
        return AutomatedVerdict("spam", reason)
    reason = _auto_reply_by_headers(email) or _auto_reply_by_subject(email, text)
    if reason:
        return AutomatedVerdict("auto_reply", reason)
    reason = _newsletter_by_headers(email)
    if reason:
        # Vacation programs also send "Precedence: bulk/junk": their text decides.
        content = _auto_reply_by_content(email, text)
        if content and "List" not in reason:
            return AutomatedVerdict("auto_reply", f"{content}; {reason}")
        return AutomatedVerdict("newsletter", reason)
    reason = _spam_by_content(email, own_text)
    if reason:
        return AutomatedVerdict("spam", reason)
    reason = _auto_reply_by_content(email, text)
    if reason:
        return AutomatedVerdict("auto_reply", reason)
    reason = _newsletter_by_content(email, own_text)
    if reason:
        return AutomatedVerdict("newsletter", reason)
    return None
