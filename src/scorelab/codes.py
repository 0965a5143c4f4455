"""Codes the compiled kernels and the tables share.

The kernels' compiled cache is keyed on every module they import (``jit_cache``), so the
codes they read live here, apart from the words the tables show (``vocabulary``): rewording
a figure does not recompile the kernels.
"""

from __future__ import annotations

__all__ = ["NO_GRADE"]

#: The grade code of an entity that is not scored (the engine's state, the results' people).
NO_GRADE = 255
