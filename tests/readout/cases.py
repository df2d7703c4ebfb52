"""One case table for every functional readout: name, options, and input domain.

The listed cases add options (quantiles, temperatures, exponents) and input domains; every other readout in the
registry (one registered by a user or a plugin included) gets a case with its default options, so the invariance,
gradient and property tests run on every readout :func:`~graphpool.readout.global_pool` computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphpool.readout import functional_names


@dataclass(frozen=True)
class Case:
    reduce: str
    options: dict = field(default_factory=dict)
    positive: bool = False  # the readout is defined for positive inputs only

    @property
    def parts(self) -> int:
        """Output columns per input column: several quantiles come side by side."""
        q = self.options.get("q")
        return len(q) if isinstance(q, list) else 1

    @property
    def id(self) -> str:
        return self.reduce + "".join(f"-{k}={v}" for k, v in self.options.items())


LISTED = [
    Case("sum"),
    Case("mean"),
    Case("max"),
    Case("min"),
    Case("median"),
    Case("quantile", {"q": 0.25, "method": "linear"}),
    Case("quantile", {"q": 0.9, "method": "lower"}),
    Case("quantile", {"q": 0.6, "method": "higher"}),
    Case("quantile", {"q": 0.5, "method": "nearest"}),
    Case("quantile", {"q": 0.3, "method": "midpoint"}),
    Case("quantile", {"q": 0.0}),
    Case("quantile", {"q": 1.0}),
    Case("quantile", {"q": [0.2, 0.5, 0.8, 0.5], "method": "linear"}),  # several at once (and one twice)
    Case("quantile", {"q": [0.1, 0.9], "method": "nearest"}),
    Case("var"),
    Case("std"),
    Case("softmax", {"temperature": 1.0}),
    Case("softmax", {"temperature": 0.3}),
    Case("softmax", {"temperature": -2.0}),
    Case("powermean", {"p": 1.0}, positive=True),
    Case("powermean", {"p": 3.0}, positive=True),
    Case("powermean", {"p": -1.5}, positive=True),
]
#: readouts with tests of their own (per-node weights as an input: test_numerics.py and test_gradients.py)
OWN_TESTS = {"weighted"}
CASES = LISTED + [Case(name) for name in functional_names() if name not in {case.reduce for case in LISTED} | OWN_TESTS]
