"""Lent handles: the kernels read Params and State without reference counting.

The kernels receive the parameters and the state as numba StructRefs (one reference
each instead of some hundred arrays). numba counts references to every StructRef and
array it passes or reads: a function increfs each argument on entry and decrefs it on
exit, and reading an array field increfs the array until the view dies. Each count is an
atomic instruction, which also keeps the memory accesses around it from overlapping; in
the day loop, whose events call a few functions and read a few dozen fields each, they
took 11.5 % of the samples of a Rongcheng year, and 17 % of a faster one once field
reads no longer counted (perf; docs/performance.md).

So the entry points (the kernels called from Python) ``lend`` their StructRefs and
arrays once, and the functions they call work on lent values:

* ``lend(struct_ref)`` gives a :class:`Lent` handle, a bare pointer to the StructRef's
  fields that numba does not count. Reading an array field through it gives a view
  without an owner (a null meminfo), which numba does not count either. Writing a field
  counts as usual (the new array is increfed, the old one decrefed).
* ``lend(array)`` gives the same kind of view of an array argument.

This is safe because nothing lent outlives the call that lent it: the caller (Python)
holds the StructRefs and arrays for the whole call; a lent value is never stored in a
field or returned to Python (a kernel that must return a field returns a copy); and a
kernel that replaces an array field reads the field again after replacing it.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, imputils, types
from numba.core.datamodel import models
from numba.core.typing.templates import AttributeTemplate
from numba.experimental import structref
from numba.extending import (
    infer_getattr,
    intrinsic,
    lower_getattr_generic,
    lower_setattr_generic,
    register_model,
)

_PTR = ir.IntType(8).as_pointer()


class Lent(types.Type):
    """A lent handle on the fields of a StructRef of type ``struct_type``."""

    def __init__(self, struct_type: types.StructRef):
        self.struct_type = struct_type
        super().__init__(name=f"Lent({struct_type.name})")

    @property
    def field_dict(self):
        return self.struct_type.field_dict


@register_model(Lent)
class _LentModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _PTR)


def _fields(context, builder, typ: Lent, val):
    """A getter/setter helper on the fields a lent handle points to."""
    valtype = typ.struct_type.get_data_type()
    alloc_type = context.data_model_manager[valtype].get_value_type()
    return cgutils.create_struct_proxy(valtype)(context, builder, ref=builder.bitcast(val, alloc_type.as_pointer()))


def _lent_view(context, builder, aryty: types.Array, value):
    """The array ``value`` with no owner: numba's reference counts skip a null meminfo."""
    view = context.make_array(aryty)(context, builder, value=value)
    view.meminfo = cgutils.get_null_value(view.meminfo.type)
    view.parent = cgutils.get_null_value(view.parent.type)
    return view._getvalue()


@intrinsic
def lend(typingctx, x):
    """A lent handle on a StructRef's fields, or an ownerless view of an array."""
    if isinstance(x, types.StructRef):
        def codegen(context, builder, signature, args):
            ptr = structref._Utils(context, builder, signature.args[0]).get_data_pointer(args[0])
            return builder.bitcast(ptr, _PTR)

        return Lent(x)(x), codegen
    if isinstance(x, types.Array):
        def codegen_array(context, builder, signature, args):
            return _lent_view(context, builder, signature.args[0], args[0])

        return x(x), codegen_array
    return None


@infer_getattr
class _LentAttribute(AttributeTemplate):
    key = Lent

    def generic_resolve(self, typ, attr):
        if attr in typ.field_dict:
            return typ.field_dict[attr]


@lower_getattr_generic(Lent)
def _lent_getattr(context, builder, typ, val, attr):
    value = getattr(_fields(context, builder, typ, val), attr)
    fieldtype = typ.field_dict[attr]
    if isinstance(fieldtype, types.Array):
        return _lent_view(context, builder, fieldtype, value)
    return imputils.impl_ret_borrowed(context, builder, fieldtype, value)


@lower_setattr_generic(Lent)
def _lent_setattr(context, builder, sig, args, attr):
    inst_type, val_type = sig.args
    instance, val = args
    fields = _fields(context, builder, inst_type, instance)
    casted = context.cast(builder, val, val_type, inst_type.field_dict[attr])
    old = getattr(fields, attr)
    context.nrt.incref(builder, val_type, casted)
    context.nrt.decref(builder, val_type, old)  # last, in case the new value is the old one
    setattr(fields, attr, casted)
