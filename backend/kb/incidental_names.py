"""Names a dealership's email mentions in passing: people, car makes and models, dealership
names, calendar words and US states. They say who, what car, when and where, not what the
question is about, so the answer decision (backend/kb/answerability.py) leaves them out of its
coverage measures: "Marcus Bell started as our BDC manager" asks the same as "a new BDC manager
started", while "alerts in Slack" names the thing the KB must cover.

The word lists are general knowledge written for this module (common US first names, makes
and models sold in the US, months, weekdays, holidays, states), not taken from any data set.
Nothing here fails: any text gives a (possibly empty) set.
"""

from __future__ import annotations

import re


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


FIRST_NAMES = _word_set("""
aaron adam adrian aiden alan albert alejandro alex alexander alexis alice alicia allison amanda amber amy
ana andrea andrew angela angelica anita ann anna anne anthony antonio april ashley austin ava barbara ben
benjamin beth betty beverly bill billy bob bobby brad bradley brandon brenda brian brittany bruce bryan
caleb cameron carl carla carlos carmen carol caroline carolyn carrie casey catherine cathy chad charles
charlie charlotte chelsea cheryl chloe chris christian christina christine christopher cindy claire
clara cody colin connie courtney craig crystal cynthia dale dan dana daniel danielle danny darius darren
dave david dean deborah debra denise dennis derek desiree destiny devin diana diane diego dominic don
donald donna doris dorothy doug douglas dustin dylan eddie edgar eduardo edward elaine elena eli elijah
elizabeth ella ellen emily emma eric erica erik erin ernesto esther ethan eugene eva evan evelyn felix
fernando frances francisco frank gabriel gabriela gary gavin george gerald gina glen glenn gloria gordon
grace greg gregory hailey hannah harold harry heather hector helen henry holly howard hunter ian irene
isaac isabel isabella ivan jack jackie jacob jacqueline jaime jake james jamie jan jane janet janice
jared jasmine jason javier jay jean jeff jeffrey jenna jennifer jenny jeremy jerry jesse jessica jesus
jill jim jimmy joan joanne joe joel john johnny jon jonathan jordan jorge jose joseph josh joshua joy
joyce juan judith judy julia julian julie justin kaitlyn karen kate katherine kathleen kathy katie
kayla keith kelly ken kenneth kevin kim kimberly kristen kristin kyle laura lauren lawrence leah lee leo
leslie liam lily linda lindsay lisa logan lori louis lucas lucy luis luke lydia madison manuel marc
marcus margaret maria marie marilyn mario marissa mark marsha martha martin marvin mary mason matt
matthew maurice megan melanie melissa michael michelle miguel mike mildred miranda molly monica morgan
nancy natalie nathan nicholas nick nicole noah norma olivia omar oscar pablo pamela patricia patrick
paul paula pedro peggy peter philip phillip priya rachel rafael ralph ramon randy raul ray raymond
rebecca regina renee ricardo richard rick ricky rita rob robert roberto robin rodney roger ron ronald
rosa rose ruby russell ruth ryan sabrina sally samantha samuel sandra sara sarah scott sean sergio
seth shannon sharon shawn sheila shirley sofia sophia stacy stephanie stephen steve steven sue susan
sydney tammy tanya tara taylor teresa terry theresa thomas tiffany tim timothy tina todd tom tommy tony
tracy travis trevor tyler valerie vanessa veronica victor victoria vincent virginia walter wanda wayne
wendy william willie xavier yolanda yvonne zach zachary
""")

HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "dr"})

CAR_MAKES = _word_set("""
acura alfa audi bmw buick cadillac chevrolet chevy chrysler dodge fiat ford genesis gmc honda hyundai
infiniti jaguar jeep kia lexus lincoln mazda mercedes mini mitsubishi nissan polestar porsche ram rivian
subaru tesla toyota volkswagen vw volvo
""")

CAR_MODELS = _word_set("""
accord altima camry corolla civic crv cr-v rav4 highlander tacoma tundra prius sienna pilot odyssey
silverado tahoe suburban equinox malibu traverse colorado f-150 f150 escape explorer mustang ranger bronco
expedition wrangler cherokee grand durango charger challenger outback forester crosby ascent impreza
elantra sonata tucson santa kona optima sorento sportage telluride rogue sentra pathfinder frontier
murano jetta passat tiguan atlas cx-5 cx5 model
""")

CALENDAR_WORDS = _word_set("""
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
christmas thanksgiving easter halloween memorial labor independence juneteenth veterans presidents
columbus new year eve
""")

US_STATES = _word_set("""
alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho
illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota
mississippi missouri montana nebraska nevada hampshire jersey york carolina dakota ohio oklahoma
oregon pennsylvania rhode tennessee texas utah vermont virginia washington wisconsin wyoming
""")

# Words that end a dealership's name ("Bayview Motors", "Northside Auto Group").
DEALERSHIP_WORDS = frozenset({"motors", "auto", "automotive", "group", "autogroup", "cars"})

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def _capitalised(token: str) -> bool:
    return token[:1].isupper()


def incidental_words(query: str) -> frozenset[str]:
    """The lowercase words of `query` that are incidental names (see the module docstring).

    Makes, models, calendar words and states count in any case (except the months that are
    also common words, which count only capitalised); first names only when capitalised. A
    capitalised word next to a first name, an honorific or a make is part of that name
    ("Jim Howard", "Mrs. Patel", "Westgate Chevrolet").
    """
    tokens = [match.group(0) for match in _WORD.finditer(query)]
    lowered = [token.lower() for token in tokens]
    incidental: set[str] = set()
    for index, (token, word) in enumerate(zip(tokens, lowered, strict=True)):
        named = (
            word in CAR_MAKES or word in CAR_MODELS or word in US_STATES
            or (word in CALENDAR_WORDS and (word not in {"may", "march", "eve", "new", "year", "grand"}
                                              or _capitalised(token)))
            or (_capitalised(token) and (word in FIRST_NAMES or word in HONORIFICS))
            or (_capitalised(token) and word in DEALERSHIP_WORDS)
        )
        if not named:
            continue
        incidental.add(word)
        # The capitalised neighbours belong to the same name.
        for neighbour in (index - 1, index + 1):
            if 0 <= neighbour < len(tokens) and _capitalised(tokens[neighbour]):
                incidental.add(lowered[neighbour])
    return frozenset(incidental)
