"""Guess the language of a short email text (ISO 639-1 code, or "und" when unsure).

Support mail is short and informal, so the detector counts function words ("the", "und", "de",
"och", …), which every sentence has regardless of topic, and decides Japanese and Chinese by script
(kana means Japanese; Han characters without kana mean Chinese). Cyrillic text is scored against
Russian and Ukrainian function words.

A language wins when its stopwords make up a clear share of the words and beat the runner-up; very
short or mixed text returns "und" rather than a guess. Closely related pairs (da/no, es/pt, nl/de)
are separated by the words they do not share, which is why some lists below look sparse.

Failures: none; any string is accepted.
"""

from __future__ import annotations

import re
import unicodedata


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words, chosen to separate close neighbours (words shared by a pair are left out of one side).
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and to of a in is it you that for on this with be are have was we not but at can if my "
        "your our they there from or an will as all so would do just what about when been me please "
        "thanks thank hi hello regards could should which their them any some get out now also i i'm "
        "it's its has had how why who were here yes one mine says does don't can't"
    ),
    "de": _words(
        "der die das und ist nicht ich sie wir zu den mit von ein eine einen dem des auf für im ihr "
        "bitte danke es auch noch wie aber oder wenn sind haben hat wird werden bei nach aus kann "
        "können uns unser unsere mir mich dass schon sehr gruß grüße hallo"
    ),
    "fr": _words(
        "le la les et est des une un du pas je vous nous pour que qui dans sur avec ce cette il elle "
        "au aux mais ou ne merci bonjour votre vos notre nos sont avez avons être fait plus très "
        "cordialement bien mon ma mes"
    ),
    "es": _words(
        "el la los las y es en un una que por para con no se del al lo como pero más mi su sus "
        "gracias hola usted ustedes nuestro nuestra está están tengo tiene hay muy este esta esto "
        "saludos favor cuando también"
    ),
    "it": _words(
        "il lo la gli le e è di che non un una per con del della dei delle nel nella sono ho ha "
        "abbiamo grazie ciao buongiorno vostro nostro questo questa anche ma come più molto cordiali "
        "saluti se mi ci"
    ),
    "pt": _words(
        "o os a as e é de do da dos das que não um uma para com em no na nos nas por mais mas "
        "obrigado obrigada olá você vocês nosso nossa está estão tenho tem muito isso este esta "
        "atenciosamente também foi ser"
    ),
    "nl": _words(
        "de het een en is van ik je we wij niet op te dat die met voor zijn er maar ook aan als bij "
        "naar nog wel dank bedankt groet groeten graag kunnen heeft hebben jullie ons onze mijn"
    ),
    "sv": _words(
        "och är att det en ett jag vi inte på för med som har till av om men kan vara har ni oss "
        "vår våra min mitt tack hej hälsningar också eller när mycket bara från där skulle"
    ),
    "da": _words(
        "og er at det en et jeg vi ikke på for med som har til af om men kan være i os vores min "
        "mit tak hej hilsen også eller når meget bare fra der skulle hvad hvordan jeres venlig"
    ),
    "no": _words(
        "og er at det en et jeg vi ikke på for med som har til av om men kan være dere oss vår "
        "våre min mitt takk hei hilsen også eller når mye bare fra der skulle hva hvordan deres "
        "vennlig ikkje"
    ),
    "pl": _words(
        "i w z na się nie jest to że do o jak ale co tak po dla od za czy jestem mamy są być "
        "dziękuję dzień dobry pozdrawiam proszę nasz nasza mój moja bardzo już tylko przez oraz"
    ),
    "ru": _words(
        "и в не на я что с по это как а но он она мы вы они у к из за то для от так же уже "
        "спасибо здравствуйте пожалуйста наш наша мой моя есть было очень"
    ),
    "uk": _words(
        "і в не на я що з по це як а але він вона ми ви вони у до із за то для від так вже "
        "дякую будь ласка наш наша мій моя є було дуже також"
    ),
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_MIN_WORDS = 3
_MIN_SHARE = 0.12


def _script_language(text: str) -> str | None:
    kana = han = hangul = 0
    for char in text:
        code = ord(char)
        if 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            han += 1
        elif 0xAC00 <= code <= 0xD7AF:
            hangul += 1
    letters = sum(1 for char in text if unicodedata.category(char).startswith("L"))
    if not letters:
        return None
    if kana >= 2 and (kana + han) / letters > 0.2:
        return "ja"
    if han >= 2 and han / letters > 0.3:
        return "zh"
    if hangul >= 2 and hangul / letters > 0.3:
        return "ko"
    return None


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language, or "und" when the text is too short or unclear."""
    if not text or not text.strip():
        return "und"
    by_script = _script_language(text)
    if by_script:
        return by_script
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    if len(words) < _MIN_WORDS:
        return "und"
    scores = {
        language: sum(1 for word in words if word in stopwords) / len(words)
        for language, stopwords in _STOPWORDS.items()
    }
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, best_share), (_, second_share) = ranked[0], ranked[1]
    if best_share < _MIN_SHARE or best_share == second_share:
        return "und"
    return best
