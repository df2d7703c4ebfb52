"""The process-wide switches (validation, device path, numba) take booleans, and their environment variables
take the usual spellings of on and off; anything else is named, not read as "on" (``bool("no")`` is True)."""

import numpy as np
import pytest

import graphpool
from graphpool.ops.validation import flag_from_environment


@pytest.mark.parametrize(
    "switch", [graphpool.set_validation, graphpool.set_device_path, graphpool.validation, graphpool.device_path]
)
@pytest.mark.parametrize("value", ["no", "0", 2, None])
def test_switches_take_booleans(switch, value) -> None:
    before = (graphpool.validation_enabled(), graphpool.device_path_enabled())
    with pytest.raises(TypeError, match=rf"'enabled' must be True or False, got {value!r}"):
        switch(value).__enter__() if switch in (graphpool.validation, graphpool.device_path) else switch(value)
    assert (graphpool.validation_enabled(), graphpool.device_path_enabled()) == before


def test_numpy_booleans_are_booleans() -> None:
    with graphpool.validation(np.bool_(False)):
        assert not graphpool.validation_enabled()
    assert graphpool.validation_enabled()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), (" TRUE ", True), ("yes", True), ("on", True), ("0", False), ("False", False), ("off", False)],
)
def test_environment_flags_read_the_usual_spellings(monkeypatch, text: str, expected: bool) -> None:
    monkeypatch.setenv("GRAPHPOOL_TEST_FLAG", text)
    assert flag_from_environment("GRAPHPOOL_TEST_FLAG", default=not expected) is expected


def test_an_unknown_environment_value_keeps_the_default_and_says_so(monkeypatch) -> None:
    monkeypatch.delenv("GRAPHPOOL_TEST_FLAG", raising=False)
    assert flag_from_environment("GRAPHPOOL_TEST_FLAG", default=True) is True
    monkeypatch.setenv("GRAPHPOOL_TEST_FLAG", "nope")  # GRAPHPOOL_NUMBA=false kept numba on, unsaid
    with pytest.warns(
        UserWarning, match=r"GRAPHPOOL_TEST_FLAG='nope' is not one of 1, true, yes, on, 0, false, no, off: it stays off"
    ):
        assert flag_from_environment("GRAPHPOOL_TEST_FLAG", default=False) is False
