"""Free-text comments generated from known themes with varied wording.

Each theme and polarity has a bank of sentences built from subjects and predicates (well over
15 phrasings each, with negations such as "not slow at all" or "wasn't helpful"), every
sentence also exists in a misspelt variant, and neutral filler sentences carry no theme. A
comment is 1-2 theme sentences with optional fillers, assembled with vectorised Arrow string
kernels so that millions of comments cost seconds.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxroi.simulate import params as P

__all__ = ["THEME_NAMES", "assemble", "phrase_bank"]

THEME_NAMES: tuple[str, ...] = tuple(P.THEMES)

_SUBJECTS: dict[str, tuple[str, ...]] = {
    "delivery": (
        "the delivery",
        "delivery",
        "my parcel",
        "the parcel",
        "shipping",
        "the courier",
        "my home delivery",
    ),
    "price": (
        "the price",
        "the prices",
        "your pricing",
        "the monthly fee",
        "the subscription price",
        "my bill",
        "the price of my plan",
    ),
    "support_wait": (
        "getting a reply",
        "the wait for support",
        "reaching customer service",
        "the response to my ticket",
        "the queue on the hotline",
        "hearing back from you",
    ),
    "product_quality": (
        "the product",
        "the build quality",
        "the item I bought",
        "the material",
        "the gadget",
        "what I received",
    ),
    "app_usability": (
        "the app",
        "your app",
        "the mobile app",
        "the website",
        "your website",
        "the login page",
        "the new app interface",
        "the online account page",
    ),
    "staff_friendliness": (
        "the staff",
        "your staff",
        "the staff in the store",
        "the agent I spoke to",
        "the person on the phone",
        "the store employees",
        "the lady at the counter",
    ),
}

_PREDICATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("delivery", "negative"): (
        "was late again",
        "took forever",
        "arrived three days after the promised date",
        "was delayed for a week",
        "was not on time",
        "wasn't delivered when promised",
        "got lost on the way",
        "came damaged and late",
        "is always slow",
        "never shows up in the time window",
    ),
    ("delivery", "positive"): (
        "arrived a day early",
        "was super fast",
        "came the next morning",
        "was not slow at all",
        "was right on time",
        "arrived well packed and quick",
        "was tracked perfectly and on schedule",
        "turned up exactly when promised",
        "was never late",
        "was quicker than expected",
    ),
    ("price", "negative"): (
        "is way too expensive",
        "went up again for no reason",
        "is a rip off",
        "is not worth the money",
        "keeps increasing",
        "is much higher than the competition",
        "has too many hidden fees",
        "doesn't feel fair",
        "is overpriced for what you get",
        "is hard to justify",
    ),
    ("price", "positive"): (
        "is very reasonable",
        "is great value for money",
        "is cheaper than elsewhere",
        "is not expensive at all",
        "feels fair",
        "is affordable for my budget",
        "has no hidden fees",
        "is worth every penny",
        "is a good deal",
        "didn't go up this year",
    ),
    ("support_wait", "negative"): (
        "took days",
        "meant waiting on hold for an hour",
        "took far too long",
        "is painfully slow",
        "was never answered",
        "needed three reminders",
        "took a week before anyone got back to me",
        "wasn't quick at all",
        "left me waiting forever",
        "was the slowest I have seen",
    ),
    ("support_wait", "positive"): (
        "took only minutes",
        "was instant",
        "was really quick",
        "didn't take long at all",
        "happened within the hour",
        "was faster than I expected",
        "meant no waiting on hold",
        "was not slow at all",
        "was prompt and efficient",
        "was answered the same day",
    ),
    ("product_quality", "negative"): (
        "broke after two weeks",
        "feels cheap and flimsy",
        "stopped working",
        "was defective out of the box",
        "is not durable",
        "doesn't work as advertised",
        "fell apart quickly",
        "is poorly made",
        "had a faulty part",
        "wasn't what the description said",
    ),
    ("product_quality", "positive"): (
        "is really well made",
        "works perfectly",
        "feels solid and sturdy",
        "is excellent quality",
        "has lasted for years",
        "never broke once",
        "is exactly as described",
        "is durable and reliable",
        "is not flimsy at all",
        "exceeded my expectations",
    ),
    ("app_usability", "negative"): (
        "keeps crashing",
        "is confusing to use",
        "logs me out all the time",
        "is not intuitive",
        "freezes after every update",
        "is hard to navigate",
        "won't load half the time",
        "doesn't remember my settings",
        "is clunky and buggy",
        "makes simple things complicated",
    ),
    ("app_usability", "positive"): (
        "is easy to use",
        "works smoothly",
        "is simple and intuitive",
        "never crashes",
        "is quick to navigate",
        "makes everything easy",
        "is not confusing at all",
        "loads fast",
        "is well designed",
        "got much better with the update",
    ),
    ("staff_friendliness", "negative"): (
        "was rude",
        "wasn't helpful",
        "was unfriendly and dismissive",
        "did not care at all",
        "was impolite to me",
        "seemed annoyed by my question",
        "was condescending",
        "didn't even say hello",
        "was not friendly",
        "treated me badly",
    ),
    ("staff_friendliness", "positive"): (
        "was very friendly",
        "was so helpful",
        "was polite and kind",
        "went out of their way for me",
        "was lovely",
        "was not rude at all",
        "treated me with respect",
        "was cheerful and welcoming",
        "was patient with me",
        "made me feel valued",
    ),
}

_STANDALONE: dict[tuple[str, str], tuple[str, ...]] = {
    ("delivery", "negative"): ("Still waiting for my parcel.", "Shipping is a joke."),
    ("delivery", "positive"): ("Parcel came before I expected it.", "Love the fast shipping."),
    ("price", "negative"): ("Too expensive.", "Prices are ridiculous lately."),
    ("price", "positive"): ("Good value.", "Fair prices."),
    ("support_wait", "negative"): ("Nobody answers the hotline.", "Waited ages for a reply."),
    ("support_wait", "positive"): ("Got a reply in minutes.", "No waiting at all for support."),
    ("product_quality", "negative"): ("Poor quality.", "Mine broke within days."),
    ("product_quality", "positive"): ("Great quality.", "Solid product."),
    ("app_usability", "negative"): ("The website is a mess.", "Your portal crashed again today."),
    ("app_usability", "positive"): ("Love the new interface.", "App is brilliant."),
    ("staff_friendliness", "negative"): ("Rude staff.", "Your agent was unpleasant."),
    ("staff_friendliness", "positive"): ("Friendly staff.", "Lovely people in the store."),
}

_FILLERS: tuple[str, ...] = (
    "Overall ok.",
    "I have been a customer for years.",
    "Just my two cents.",
    "Thanks.",
    "Nothing else to add.",
    "Hope this helps.",
    "That's all.",
    "Will see how it goes.",
    "Keep it up.",
    "Please pass this on.",
    "First survey I have done.",
    "My partner agrees.",
)

TYPO_RATE = 0.05
LOWER_RATE = 0.15


def _typo(sentence: str, rng: np.random.Generator) -> str:
    words = sentence.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5]
    if not long:
        return sentence
    i = long[int(rng.integers(len(long)))]
    w = words[i]
    j = int(rng.integers(1, len(w) - 2))
    kind = int(rng.integers(3))
    if kind == 0:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # swap
    elif kind == 1:
        w = w[:j] + w[j + 1 :]  # drop
    else:
        w = w[:j] + w[j] + w[j:]  # double
    words[i] = w
    return " ".join(words)


@cache
def phrase_bank() -> dict[tuple[str, str], tuple[pa.Array, pa.Array]]:
    """Sentences per (theme, polarity): a clean array and an aligned misspelt array."""
    rng = np.random.default_rng(20240101)
    bank = {}
    for (theme, polarity), predicates in _PREDICATES.items():
        sentences = [
            f"{s[0].upper()}{s[1:]} {p}." for s in _SUBJECTS[theme] for p in predicates
        ] + list(_STANDALONE[(theme, polarity)])
        typos = [_typo(s, rng) for s in sentences]
        bank[(theme, polarity)] = (pa.array(sentences), pa.array(typos))
    return bank


def _sentences(
    rng: np.random.Generator, theme: np.ndarray, negative: np.ndarray
) -> pa.ChunkedArray | pa.Array:
    """One sentence per row for theme index ``theme`` and polarity ``negative``."""
    bank = phrase_bank()
    n = len(theme)
    out = pa.nulls(n, pa.string())
    u = rng.random(n)
    typo = rng.random(n) < TYPO_RATE
    for t, name in enumerate(THEME_NAMES):
        for neg, pol in ((True, "negative"), (False, "positive")):
            rows = np.flatnonzero((theme == t) & (negative == neg))
            if rows.size == 0:
                continue
            clean, typos = bank[(name, pol)]
            k = np.minimum((u[rows] * len(clean)).astype(np.int64), len(clean) - 1)
            text = pc.if_else(pa.array(typo[rows]), pc.take(typos, k), pc.take(clean, k))
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            out = pc.replace_with_mask(out, pa.array(mask), text)
    return out


def assemble(
    rng: np.random.Generator,
    theme1: np.ndarray,
    neg1: np.ndarray,
    theme2: np.ndarray,
    neg2: np.ndarray,
) -> pa.Array:
    """Comment texts: one theme sentence, an optional second (``theme2 < 0`` = none), fillers.

    Parameters
    ----------
    rng
        Random generator.
    theme1, neg1
        Index into :data:`THEME_NAMES` and negative polarity of the first mention.
    theme2, neg2
        Same for the second mention; ``theme2 == -1`` means a single-theme comment.

    Returns
    -------
    pyarrow.Array
        One string per row.
    """
    n = len(theme1)
    fillers = pa.array(_FILLERS)
    s1 = _sentences(rng, theme1, neg1)
    s2 = _sentences(rng, np.where(theme2 >= 0, theme2, -1), neg2)
    pre_mask = rng.random(n) < 0.2
    post_mask = rng.random(n) < 0.25
    pre = pc.take(fillers, pa.array(rng.integers(0, len(_FILLERS), n)))
    post = pc.take(fillers, pa.array(rng.integers(0, len(_FILLERS), n)))
    pre = pc.if_else(pa.array(pre_mask), pre, pa.nulls(n, pa.string()))
    post = pc.if_else(pa.array(post_mask), post, pa.nulls(n, pa.string()))
    text = pc.binary_join_element_wise(pre, s1, s2, post, " ", null_handling="skip")
    lower = pa.array(rng.random(n) < LOWER_RATE)
    return pc.if_else(lower, pc.utf8_lower(text), text)
