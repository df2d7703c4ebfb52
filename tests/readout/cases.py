"""One case table for every functional readout: name, options, and input domain."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    reduce: str
    options: dict = field(default_factory=dict)
    positive: bool = False  # the readout is defined for positive inputs only

    @property
    def id(self) -> str:
        return self.reduce + "".join(f"-{k}={v}" for k, v in self.options.items())


CASES = [
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
    Case("var"),
    Case("std"),
    Case("softmax", {"temperature": 1.0}),
    Case("softmax", {"temperature": 0.3}),
    Case("softmax", {"temperature": -2.0}),
    Case("powermean", {"p": 1.0}, positive=True),
    Case("powermean", {"p": 3.0}, positive=True),
    Case("powermean", {"p": -1.5}, positive=True),
]
