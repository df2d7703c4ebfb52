"""graphpool: readouts and hierarchical pooling for PyTorch Geometric."""

from graphpool.ops import (
    device_path,
    device_path_enabled,
    keep_freed_memory,
    set_device_path,
    set_validation,
    validation,
    validation_enabled,
)
from graphpool.readout import global_pool, resolve

#: the installed version of graphpool
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "device_path",
    "device_path_enabled",
    "global_pool",
    "keep_freed_memory",
    "resolve",
    "set_device_path",
    "set_validation",
    "validation",
    "validation_enabled",
]
