"""Full-size arrays whose memory is taken only where they are written.

A shard of a sharded run keeps per-person arrays indexed by global id, so that no code
translates ids, but writes only its own regions' entries; a population built for some cities
(``synth.cities``) does the same. ``lazy_zeros`` gives such arrays: the pages never written
hold no memory.
"""

from __future__ import annotations

import mmap

import numpy as np

#: Arrays from this size on are mapped pages of their own (``lazy_zeros``)
_LAZY_BYTES = 1 << 20


def lazy_zeros(shape: tuple[int, ...] | int, dtype: type | np.dtype) -> np.ndarray:
    """Zeros whose memory is taken page by page as they are written: an anonymous private
    mapping, whose untouched pages hold no memory (``np.zeros`` gives that only above glibc's
    mmap threshold, which moves up to 32 MB as arrays are freed)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    # (small arrays from the heap; an empty mapping is refused; Windows maps no private pages)
    if nbytes < max(_LAZY_BYTES, 1) or not hasattr(mmap, "MAP_PRIVATE"):
        return np.zeros(shape, dtype=dtype)
    pages = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE)
    return np.frombuffer(pages, dtype=dtype).reshape(shape)
