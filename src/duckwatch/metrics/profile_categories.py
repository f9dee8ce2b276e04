"""Mergeable categorical profiles: a reference vocabulary and counts per value, "other", "unseen", NULL.

`CategoricalVocabulary` keeps the reference's 200 most frequent values (the rest count as "other");
`CategoricalProfile` counts a window against it, with the most frequent unseen values as examples.
Re-exported from :mod:`duckwatch.metrics.profile`, whose `merge` combines them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

MAX_VOCABULARY = 200
# Reference values beyond the top-200 kept by name so they count as "other", not "unseen".
MAX_OTHER_VALUES = 10_000
MAX_UNSEEN_EXAMPLES = 20


@dataclass(frozen=True)
class CategoricalVocabulary:
    """Reference categories by descending count (top 200) plus the rest, which count as "other"."""

    values: tuple[str, ...]
    other_values: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {v: i for i, v in enumerate(self.values)}

    @classmethod
    def from_reference(
        cls, values: npt.ArrayLike, null_mask: npt.ArrayLike | None = None, top: int = MAX_VOCABULARY
    ) -> CategoricalVocabulary:
        """Top `top` reference categories (ties broken by name); the rest go to "other"."""
        return cls.from_counts(_count_values(values, null_mask)[0], top)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], top: int = MAX_VOCABULARY) -> CategoricalVocabulary:
        """`from_reference` from already counted non-null values (category -> rows)."""
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        # Beyond MAX_OTHER_VALUES distinct tail values, the rarest are treated as unseen; reference
        # and current are classified by the same rule, so comparisons stay consistent.
        other = frozenset(v for v, _ in ranked[top : top + MAX_OTHER_VALUES])
        return cls(values=tuple(v for v, _ in ranked[:top]), other_values=other)


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """Counts per vocabulary value plus "other", "unseen" (with top examples) and NULL."""

    vocabulary: CategoricalVocabulary
    counts: IntArray
    other: int
    unseen: int
    unseen_examples: dict[str, int]
    n_null: int

    @property
    def n(self) -> int:
        """Non-null rows."""
        return int(self.counts.sum()) + self.other + self.unseen

    @property
    def n_rows(self) -> int:
        """All rows including NULL."""
        return self.n + self.n_null

    def category_counts(self) -> IntArray:
        """Counts over [vocabulary..., other, unseen], the categories drift metrics compare."""
        return np.concatenate([self.counts, np.array([self.other, self.unseen], dtype=np.int64)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict including the vocabulary."""
        return {
            "kind": "categorical",
            "values": list(self.vocabulary.values),
            "other_values": sorted(self.vocabulary.other_values),
            "counts": self.counts.tolist(),
            "other": self.other,
            "unseen": self.unseen,
            "unseen_examples": dict(self.unseen_examples),
            "n_null": self.n_null,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalProfile:
        """Inverse of `to_dict`."""
        vocab = CategoricalVocabulary(tuple(d["values"]), frozenset(d["other_values"]))
        return cls(
            vocabulary=vocab,
            counts=np.asarray(d["counts"], dtype=np.int64),
            other=int(d["other"]),
            unseen=int(d["unseen"]),
            unseen_examples={str(k): int(v) for k, v in d["unseen_examples"].items()},
            n_null=int(d["n_null"]),
        )


def _count_values(values: npt.ArrayLike, null_mask: npt.ArrayLike | None) -> tuple[Counter[str], int]:
    arr = np.asarray(values, dtype=object)
    if null_mask is not None:
        arr = arr[~np.asarray(null_mask, dtype=bool)]
    counter: Counter[Any] = Counter(arr.tolist())
    # None and float NaN both mean "missing" in object columns coming from pandas/arrow.
    n_null = counter.pop(None, 0)
    for key in [k for k in counter if isinstance(k, float) and k != k]:
        n_null += counter.pop(key)
    return Counter({str(k): v for k, v in counter.items()}), n_null


def _top_examples(examples: Counter[str] | dict[str, int]) -> dict[str, int]:
    ranked = sorted(examples.items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(ranked[:MAX_UNSEEN_EXAMPLES])


def profile_categorical(
    values: npt.ArrayLike, vocabulary: CategoricalVocabulary, null_mask: npt.ArrayLike | None = None
) -> CategoricalProfile:
    """Profile string-like values against a reference vocabulary (None/NaN or `null_mask` = NULL)."""
    counter, n_null = _count_values(values, null_mask)
    if null_mask is not None:
        n_null += int(np.asarray(null_mask, dtype=bool).sum())
    return profile_category_counts(counter, vocabulary, n_null)


def profile_category_counts(
    counter: Mapping[str, int], vocabulary: CategoricalVocabulary, n_null: int = 0
) -> CategoricalProfile:
    """`profile_categorical` from already counted non-null values (category -> rows) and a NULL count."""
    index = vocabulary._index
    counts = np.zeros(len(vocabulary.values), dtype=np.int64)
    other = 0
    unseen: Counter[str] = Counter()
    for value, c in counter.items():
        i = index.get(value)
        if i is not None:
            counts[i] += c
        elif value in vocabulary.other_values:
            other += c
        else:
            unseen[value] = c
    return CategoricalProfile(vocabulary, counts, other, sum(unseen.values()), _top_examples(unseen), n_null)


def merge_categorical(a: CategoricalProfile, b: CategoricalProfile) -> CategoricalProfile:
    if a.vocabulary != b.vocabulary:
        raise ValueError("cannot merge categorical profiles built on different vocabularies")
    # Approximate: a value outside either part's top 20 is lost, so merged examples (not the
    # `unseen` total, which is exact) may miss or undercount a value that was spread thinly.
    examples = Counter(a.unseen_examples)
    examples.update(b.unseen_examples)
    return CategoricalProfile(
        vocabulary=a.vocabulary,
        counts=a.counts + b.counts,
        other=a.other + b.other,
        unseen=a.unseen + b.unseen,
        unseen_examples=_top_examples(examples),
        n_null=a.n_null + b.n_null,
    )
