"""A software prefetch for the kernels: ask the CPU to start loading ``arr[i]`` now.

The day loop is bound by memory latency: each event lands on a random person whose
columns (class codes, region, incomes, scores) are rarely in cache, and an event's work
waits on each load in turn. So the kernels handle candidate events in batches: one pass
draws the actors and prefetches their columns, so that the loads of the whole batch
overlap, and a second pass does the work, in the original order, on data that has
arrived. A prefetch never changes a result: it is a hint (LLVM's ``llvm.prefetch``) and
does not fault, whatever the address.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


@intrinsic
def prefetch(typingctx, arr, i):
    """Hint that ``arr[i]`` of a one-dimensional array (any strides) is needed soon."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, value=args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.int64)
        stride = cgutils.unpack_tuple(builder, ary.strides, 1)[0]
        addr = builder.add(builder.ptrtoint(ary.data, _I64), builder.mul(idx, stride))
        ptr_t = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [ptr_t, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch")
        # read (0), keep in all cache levels (3), data cache (1)
        builder.call(fn, [builder.inttoptr(addr, ptr_t), ir.Constant(_I32, 0), ir.Constant(_I32, 3),
                          ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen
