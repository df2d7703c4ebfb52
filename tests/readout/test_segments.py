"""Offsets of groups: every way of computing them gives the same ``ptr``."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import graphpool
from graphpool.ops import compiled, segments
from graphpool.ops.segments import segments_from


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=40),
    serial=st.booleans(),  # NumPy's serial search or torch's searchsorted, whatever the number of groups
    shuffle=st.booleans(),
    seed=st.integers(0, 2**16),
    one_pass=st.booleans(),  # the compiled check-and-offsets pass (numba) or the torch/NumPy operations
)
def test_offsets_count_the_rows_of_each_group(sizes, serial, shuffle, seed, one_pass) -> None:
    counts = torch.tensor(sizes)
    index = torch.repeat_interleave(torch.arange(len(sizes)), counts)
    if shuffle:
        index = index[torch.randperm(len(index), generator=torch.Generator().manual_seed(seed))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(segments, "_SERIAL_SEARCH_MIN", 0 if serial else 1 << 15)
        patch.setattr(compiled, "ENABLED", one_pass and compiled.numba is not None)
        seg = segments_from(len(index), index, dim_size=len(sizes))
        assert seg.is_sorted is (not shuffle or index.tolist() == sorted(index.tolist()))
        ptr = seg.ptr
    assert ptr.dtype == torch.long
    assert torch.equal(ptr, torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]))
    assert torch.equal(seg.counts, counts)


@settings(max_examples=80, deadline=None)
@given(
    ids=st.lists(st.integers(0, 5), max_size=30),
    step=st.sampled_from([1, 2]),  # a strided view: the check must read the vector as it is, not its memory
    on_torch=st.booleans(),  # the torch comparison (CUDA, torch.compile) or NumPy's (CPU)
)
def test_sortedness_check_agrees_with_sorting(ids, step, on_torch) -> None:
    storage = torch.tensor([v for v in ids for _ in range(step)], dtype=torch.long)
    index = storage[::step]
    if step == 2 and len(ids) > 1:  # break the order in the memory between the viewed entries only
        storage[1::2] = -1
    expected = index.tolist() == sorted(index.tolist())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.compiler, "is_compiling", lambda: on_torch)
        assert segments._is_sorted(index) is expected


@pytest.mark.skipif(
    not compiled.available(torch.int64) or graphpool.device_path_enabled(), reason="the compiled host path (numba)"
)
def test_unsorted_ids_are_scanned_for_their_order_once(monkeypatch) -> None:
    calls = []

    def counted(index, num_segments):
        calls.append(num_segments)
        return compiled_sorted_offsets(index, num_segments)

    compiled_sorted_offsets = compiled.sorted_offsets
    monkeypatch.setattr(compiled, "sorted_offsets", counted)
    monkeypatch.setattr(segments, "_is_sorted", lambda index: pytest.fail("order checked again"))
    index = torch.tensor([0, 2, 1, 1, 0])
    seg = segments_from(5, index, dim_size=3)  # checks on: the pass fails on the order, the ids are in range
    assert not seg.is_sorted
    assert torch.equal(seg.ptr, torch.tensor([0, 2, 4, 5]))
    assert torch.equal(index[seg.perm], torch.tensor([0, 0, 1, 1, 2]))
    assert calls == [3]
