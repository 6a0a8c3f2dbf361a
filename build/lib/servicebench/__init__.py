"""servicebench: service-quality benchmarking by scripted mystery shopping.

The Python API (see :mod:`servicebench.api`)::

    import servicebench
    study = servicebench.open_study("mystudy")
    study.companies()

Names are imported on first use, so ``import servicebench`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Study", "open_study", "__version__"]

if TYPE_CHECKING:
    from .api import Study, open_study


def __getattr__(name: str) -> Any:
    if name in ("Study", "open_study"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'servicebench' has no attribute {name!r}")
