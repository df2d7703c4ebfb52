"""Offsets of groups: every way of computing them gives the same ``ptr``."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphpool.ops import segments
from graphpool.ops.segments import segments_from


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=40),
    serial=st.booleans(),  # NumPy's serial search or torch's searchsorted, whatever the number of groups
    shuffle=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_offsets_count_the_rows_of_each_group(sizes, serial, shuffle, seed) -> None:
    counts = torch.tensor(sizes)
    index = torch.repeat_interleave(torch.arange(len(sizes)), counts)
    if shuffle:
        index = index[torch.randperm(len(index), generator=torch.Generator().manual_seed(seed))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(segments, "_SERIAL_SEARCH_MIN", 0 if serial else 1 << 15)
        seg = segments_from(len(index), index, dim_size=len(sizes))
        ptr = seg.ptr
    assert ptr.dtype == torch.long
    assert torch.equal(ptr, torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]))
    assert torch.equal(seg.counts, counts)
