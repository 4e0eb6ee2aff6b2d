"""A varied English corpus for the BM25 tests: a few hundred texts of different lengths,
with punctuation, casing, numbers, stop words, contractions, underscores, hyphens and
non-ASCII text (accents, Greek final sigma, Cyrillic, Devanagari and Thai vowel signs,
CJK, emoji), built deterministically from fixed sentences."""

from __future__ import annotations

import random

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the corner of 5th Avenue.",
    "Running, runner, runs and ran: the stemmer decides which ones collapse.",
    "Qdrant stores sparse vectors; BM25 encodes documents as term frequencies.",
    "It's a truth universally acknowledged that a single man in possession of a good "
    "fortune must be in want of a wife.",
    "I don't think they'll arrive before 10:30 p.m., do you?",
    "HELLO WORLD!!! hello world... Hello, World?",
    "The committee postponed its decision on the new budget until the next quarterly "
    "meeting, citing incomplete revenue forecasts.",
    "Email me at jane.doe@example.com or visit https://example.org/path?q=1&r=2.",
    "Prices rose 3.5% in 2023, then fell by 1,200 dollars per unit in Q4.",
    "snake_case_names and kebab-case-names and CamelCaseNames are all identifiers.",
    "Café, naïve, façade, résumé and coöperate keep their accents.",
    "Straße and STRASSE are not the same token after lowercasing.",
    "ΟΔΥΣΣΕΥΣ sailed home; Ελληνικά κείμενα με τελικό σίγμα.",
    "Привет, мир! Москва — столица России.",
    "हिन्दी भाषा में लिखा गया वाक्य।",
    "ภาษาไทยเขียนติดกันโดยไม่มีช่องว่าง",
    "日本語の文章と中文的句子混在している。",
    "Emoji 🙂 and symbols ★ © ™ sit between words🚀like this.",
    "Evening emergencies added to the geologists' workload; they ebbed and erred.",
    "Generously generating generational generalisations generally generates noise.",
    "An apple a day keeps the doctor away, or so they say.",
    "The cats sat on the mats while the dogs barked at the postmen.",
    "Numbers like 42, 3.14159, 1e10, ⅕ and Ⅻ are tokens too.",
    "Tabs\tand\nnewlines\r\nseparate words as well as spaces do.",
    "Nothing but stop words: the a an of and or but if then.",
    "   leading and trailing blanks   ",
    "x",
    "",
    "Mixed-case TeXt WiTh ODD capitalisation and İstanbul's dotted I.",
    "Underscore_only ___ and --- and ... and !!! are not words.",
    "Machine learning models learn; learners learned learning from machines.",
    "Vector databases index embeddings for retrieval augmented generation.",
    "The rain in Spain stays mainly in the plain.",
    "She sells sea shells by the sea shore, and the shells she sells are sea shells.",
    "To be, or not to be, that is the question.",
    "Donaudampfschifffahrtsgesellschaftskapitänsmütze is a very long German word.",
    "pneumonoultramicroscopicsilicovolcanoconiosis is longer than forty characters, almost.",
    "Résumés, CVs and cover letters were received on 2024-01-15T09:30:00Z.",
    "He said \"quote\" and 'single quote' and `backticks` and «guillemets».",
]

_WORDS = " ".join(SENTENCES).split()


def corpus(size: int = 320, seed: int = 19) -> list[str]:
    """The fixed sentences, then random mixes of their words of 1 to 60 words."""
    rng = random.Random(seed)
    texts = list(SENTENCES)
    while len(texts) < size:
        n = rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 60])
        words = [rng.choice(_WORDS) for _ in range(n)]
        if rng.random() < 0.3:
            words = [w.upper() for w in words]
        texts.append(" ".join(words))
    return texts
