"""Name resolution and the multi-readout."""

import re

import pytest
import torch

from graphpool.readout import (
    REGISTRY,
    MaxReadout,
    MeanReadout,
    MultiReadout,
    QuantileReadout,
    SumReadout,
    WeightedReadout,
    canonical_name,
    global_pool,
    resolve,
)


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("mean", MeanReadout),
        ("Mean", MeanReadout),
        ("MeanReadout", MeanReadout),
        ("mean_readout", MeanReadout),
        ("avg", MeanReadout),
        ("add", SumReadout),
        ("MaxAggregation", MaxReadout),
        (SumReadout, SumReadout),
    ],
)
def test_names_resolve(spec, cls) -> None:
    assert type(resolve(spec)) is cls


# "quantile(0.9)" was read as "quantile": every character but a letter was dropped, and with it the 0.9 (q=0.5)
@pytest.mark.parametrize("spec", ["quantile(0.9)", "quantile 0.9", "powermean(p=3)", "q90", "mean2", "sum!", "max.x"])
def test_a_name_with_options_or_stray_characters_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(spec)) + r" .*letters.*keyword"):
        resolve(spec)
    with pytest.raises(ValueError, match=re.escape(repr(spec))):
        global_pool(torch.randn(3, 2), torch.zeros(3, dtype=torch.long), reduce=spec)


# the message quoted the stray characters alone: "powermean(p=3)" was said to hold '(=3)', the 'p' left out
@pytest.mark.parametrize(
    ("spec", "stray"),
    [("powermean(p=3)", "(p=3)"), ("softmax(t=0)", "(t=0)"), ("quantile 0.9", "0.9"), ("max.x", ".x")],
)
def test_the_refusal_quotes_the_name_from_its_first_stray_character(spec: str, stray: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"holds {stray!r}")):
        resolve(spec)


@pytest.mark.parametrize("spec", ["mean-readout", "Mean Readout", "mean_readout", " mean "])
def test_separators_in_a_name_are_spellings_of_it(spec: str) -> None:
    assert type(resolve(spec)) is MeanReadout


# a readout registered as "my_readout" could not be resolved by its own name (read as "my")
@pytest.mark.parametrize(("name", "canonical"), [("my_readout", "my"), ("Top", "top"), ("top2", None)])
def test_a_readout_registers_only_under_a_name_it_resolves_by(name: str, canonical: str | None) -> None:
    from graphpool.readout import Readout

    message = f"readout name {name!r}" + (f" is read as {canonical!r}" if canonical else "")
    with pytest.raises(ValueError, match=re.escape(message)):
        type("Odd", (Readout,), {"name": name, "compute": lambda self, x, seg: x})
    assert name not in REGISTRY


def test_every_registered_name_resolves_to_its_class() -> None:
    for name, cls in REGISTRY.items():
        assert canonical_name(cls.__name__) == name
        if name != "attention":
            assert type(resolve(name)) is cls


def test_instances_pass_through_and_options_apply() -> None:
    readout = MaxReadout()
    assert resolve(readout) is readout
    assert resolve("quantile", q=0.9).q == 0.9
    with pytest.raises(ValueError, match="cannot be applied to an existing"):
        resolve(readout, q=0.5)


def test_lists_become_a_multi_readout() -> None:
    x = torch.randn(7, 3)
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    multi = resolve("mean+ max+quantile")
    assert isinstance(multi, MultiReadout) and len(multi.readouts) == 3
    expected = torch.cat(
        [
            global_pool(x, batch, reduce="mean"),
            global_pool(x, batch, reduce="max"),
            global_pool(x, batch, reduce="quantile"),
        ],
        dim=-1,
    )
    torch.testing.assert_close(multi(x, batch), expected)
    torch.testing.assert_close(resolve(["mean", "max", QuantileReadout()])(x, batch), expected)
    assert multi.get_out_channels(3) == 9


def test_multi_passes_per_node_inputs_to_the_readouts_that_take_them() -> None:
    x = torch.randn(4, 2)
    batch = torch.tensor([0, 0, 1, 1])
    weight = torch.tensor([1.0, 0.0, 1.0, 3.0])
    out = MultiReadout([SumReadout(), WeightedReadout()])(x, batch, weight=weight)
    torch.testing.assert_close(out[:, 2:], global_pool(x, batch, reduce="weighted", weight=weight))
    with pytest.raises(ValueError, match="unexpected inputs"):
        MultiReadout([SumReadout()])(x, batch, weight=weight)


# a per-node input a readout does not read failed inside it: "MeanReadout.compute() got an unexpected keyword
# argument 'pos'"
@pytest.mark.parametrize("name", ["mean", "median", "sum", "max", "weighted"])
def test_a_per_node_input_the_readout_does_not_read_is_refused_by_name(name: str) -> None:
    x, batch = torch.randn(4, 2), torch.tensor([0, 0, 1, 1])
    extra = {"weight": torch.ones(4)} if name == "weighted" else {}
    with pytest.raises(ValueError, match=r"unexpected inputs \['pos'\]; this readout takes \["):
        resolve(name)(x, batch, pos=torch.randn(4, 2), **extra)


def test_attention_by_name_needs_the_width() -> None:
    from graphpool.readout import AttentionReadout

    assert isinstance(resolve("attention", in_channels=8), AttentionReadout)
    multi = resolve("mean+attention", in_channels=8)
    assert multi.get_out_channels(8) == 16
    assert type(resolve("mean", in_channels=8)) is MeanReadout  # ignored where not needed
    with pytest.raises(ValueError, match="pass in_channels=F"):
        resolve("attention")


# one syntax for a concatenation everywhere: 'mean+max' (a comma separates alternatives on the command line)
def test_plus_concatenates_in_resolve_global_pool_and_the_command_line() -> None:
    from graphpool.experiment import readout_grid

    x, batch = torch.randn(7, 3), torch.tensor([0, 0, 0, 1, 1, 1, 1])
    expected = torch.cat([global_pool(x, batch, reduce="sum"), global_pool(x, batch, reduce="max")], 1)
    torch.testing.assert_close(resolve("sum+max")(x, batch), expected)
    torch.testing.assert_close(global_pool(x, batch, reduce="sum+max"), expected)
    assert readout_grid("sum,mean+max") == ["sum", "mean+max"]
    assert resolve(readout_grid("mean+max")[0]).get_out_channels(3) == 6


@pytest.mark.parametrize(
    ("spec", "message"),
    [("", "no readout named"), ("mean,,max", "an empty name between commas"), (" , ", "no readout named")],
)
def test_a_readout_grid_with_an_empty_entry_is_refused(spec: str, message: str) -> None:
    """'mean,,max' became the grid ['mean', 'max'], silently; '' an empty grid (an IndexError in the CLI)."""
    from graphpool.experiment import readout_grid

    with pytest.raises(ValueError, match=f"readout grid {spec!r}: {message}"):
        readout_grid(spec)


@pytest.mark.parametrize("call", [lambda: resolve("mean,max"), lambda: global_pool(torch.ones(2, 1), reduce="sum,max")])
def test_a_comma_in_one_readout_points_to_plus(call) -> None:
    with pytest.raises(ValueError, match=r"'mean\+max'|'sum\+max'"):
        call()


def test_global_pool_takes_pygs_size_for_the_graph_count() -> None:
    x, batch = torch.ones(3, 2), torch.tensor([0, 0, 1])
    assert torch.equal(global_pool(x, batch, size=3, reduce="sum"), global_pool(x, batch, num_graphs=3, reduce="sum"))
    with pytest.raises(ValueError, match="'size' is PyG's name for 'num_graphs'; give one"):
        global_pool(x, batch, size=3, num_graphs=2)


def test_global_pool_on_heterogeneous_graphs_says_to_pool_each_node_type() -> None:
    from torch_geometric.data import Batch, HeteroData

    graph = HeteroData()
    graph["cell"].x = torch.randn(3, 2)
    graph["gene"].x = torch.randn(2, 2)
    batch = Batch.from_data_list([graph, graph])
    for given in (batch, batch["cell"]):
        with pytest.raises(
            ValueError, match=r"pool each node type.*global_pool\(batch\['cell'\]\.x, batch\['cell'\]\.batch"
        ):
            global_pool(batch["cell"].x, given)


def test_the_case_table_covers_every_functional_readout() -> None:
    """The invariance, gradient and property tests read tests/readout/cases.py: a readout registered without a
    case there would be skipped by them silently, so the table is checked against the registry."""
    from cases import CASES

    from graphpool.readout import functional_names

    own_tests = {"weighted"}  # per-node weights as an input: tests/readout/test_numerics.py and test_gradients.py
    assert {case.reduce for case in CASES} | own_tests == set(functional_names())


@pytest.mark.parametrize("spec", ["mean+", "+max", "mean++max", "mean+ +max"])
def test_an_empty_part_of_a_concatenation_is_named(spec: str) -> None:
    """'mean+' said "unknown readout ''", naming neither the spec nor what was wrong with it."""
    with pytest.raises(ValueError, match=rf"readout {re.escape(repr(spec))} has an empty part: write 'mean\+max'"):
        resolve(spec)


# an option the readout does not take failed inside its constructor: "TypeError: Aggregation.__init__() got an
# unexpected keyword argument 'p'" (resolve, GlobalPool, SqueezeExcite), where global_pool named the options
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: resolve("mean", p=3), "readout 'mean' takes options none, got unexpected ['p']"),
        (lambda: resolve(MeanReadout, p=3), "readout 'mean' takes options none, got unexpected ['p']"),
        (
            lambda: resolve("quantile", q=0.5, bogus=1),
            "readout 'quantile' takes options ['q', 'method'], got unexpected ['bogus']",
        ),
        (
            lambda: resolve("attention", in_channels=4, head=2),
            (
                "readout 'attention' takes options ['in_channels', 'gate', 'value', 'pos_channels', 'pos_hidden', "
                "'temperature', 'learn_temperature', 'heads'], got unexpected ['head']"
            ),
        ),
    ],
)
def test_an_option_the_readout_does_not_take_is_refused_by_name(build, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_a_readout_whose_constructor_takes_any_keyword_gets_its_options() -> None:
    from graphpool.readout import Readout

    class Scaled(Readout):
        def __init__(self, **options: float) -> None:
            super().__init__()
            self.factor = options.get("factor", 1.0)

        def compute(self, x, seg):
            return self.factor * global_pool(x, seg.index, num_graphs=seg.num_segments, reduce="sum")

    assert resolve(Scaled, factor=2.0).factor == 2.0
