"""details_json writes what json.dumps writes, character for character."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from duckwatch.calculators.details import details_json

values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.floats(width=32).map(np.float64), st.lists(st.floats(allow_nan=False), max_size=2),
    st.sampled_from(["a\"b", "back\\slash", "tab\there", "é", "\u2028", "plain text"]),
)  # fmt: skip


@given(st.dictionaries(st.text(max_size=6), values, max_size=5))
def test_same_text_as_json_dumps(fields: dict[str, object]) -> None:
    assert details_json(fields) == json.dumps(fields)
