"""Which keyword a misspelt one stands for: the "did you mean" of schema errors.

An unknown keyword is an annotation to JSON Schema, so a misspelt assertion (``maximun``)
would be ignored without a word. :func:`near_miss` tells such a mistake from a tool's own
keyword (``javaType``, ``tsType``, ``comment``), which is kept as an annotation.
"""

from __future__ import annotations

__all__ = ["near_miss"]


def near_miss(key: str, keywords: frozenset[str]) -> str | None:
    """The keyword of ``keywords`` that ``key`` is a misspelling of, if any.

    ``key`` is taken for a misspelling of ``keyword`` when, ignoring case, they are the same
    word, or the same up to a plural ending (``patternProperty``), or, both of four letters or
    more, at a Damerau-Levenshtein distance of 1 (2 for a keyword of ten letters or more):
    ``maximun``, ``minLenght``, ``requried``. ``keywords`` are meant to be a draft's
    assertions and applicators only, so that an annotation's look-alike (``comment``,
    ``$comment``) or a tool's own keyword (``javaType``, ``tsType``) is never reported.
    """
    lowered = key.lower()
    best: tuple[int, str] | None = None
    for keyword in sorted(keywords):
        target = keyword.lower()
        if lowered == target or _singular(lowered) == _singular(target):
            distance = 0
        elif min(len(key), len(keyword)) >= 4:
            # Short names are too near one another (``note`` and ``not``, ``id`` and ``if``).
            distance = _distance(lowered, target)
            if distance > (2 if len(keyword) >= 10 else 1):
                continue
        else:
            continue
        if best is None or distance < best[0]:
            best = (distance, keyword)
    return None if best is None else best[1]


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word.removesuffix("s")


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) of ``a`` and ``b``."""
    if abs(len(a) - len(b)) > 2:
        return 3
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]
