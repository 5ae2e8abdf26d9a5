"""Two sensitive columns: their intersection makes the groups, and neither is a feature."""

from __future__ import annotations

import pandas as pd
import pytest

from metaml.data import DataError
from metaml.data.frame import from_frame


def test_the_groups_of_two_columns_are_their_intersection() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "race": ["a", "a", "b", "b"], "sex": ["f", "m", "f", "f"],
                          "y": [0, 1, 0, 1]})  # fmt: skip
    data = from_frame(frame, "y", name="t", sensitive=["race", "sex"])
    assert list(data.sensitive) == ["a & f", "a & m", "b & f", "b & f"]  # type: ignore[arg-type]
    assert data.sensitive_name == "race & sex" and data.feature_names == ("x",)
    with pytest.raises(DataError, match="no sensitive column 'age'|age"):
        from_frame(frame, "y", name="t", sensitive=["race", "age"])
    with pytest.raises(DataError, match="distinct"):
        from_frame(frame, "y", name="t", sensitive=["race", "race"])
