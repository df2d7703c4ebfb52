"""graphpool: readouts and hierarchical pooling for PyTorch Geometric."""

from graphpool.ops import keep_freed_memory, set_validation, validation, validation_enabled
from graphpool.readout import global_pool, resolve

#: the installed version of graphpool
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "global_pool",
    "keep_freed_memory",
    "resolve",
    "set_validation",
    "validation",
    "validation_enabled",
]
