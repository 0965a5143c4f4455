"""The handles the kernels receive: ``State`` and ``Metrics`` namedtuples, and numba StructRefs
for them and for ``plan.Params`` (passed by reference, so that a 100-field table compiles
quickly), built inside numba so that their constructors are cached.
"""

from __future__ import annotations

from collections import namedtuple

from scorelab.jit_cache import nb
from numba.extending import overload
from numba.experimental import structref
from numba.core import types

from scorelab.engine.layout import STATE
from scorelab.engine.plan import Params
from scorelab.engine.kernel.constants import C_NMSG, C_NPEND

#: The day-loop state: the arrays of engine.layout.STATE, in its order
State = namedtuple("State", [a.name for a in STATE])
#: The per-step metrics matrix (steps x columns) and its column offsets (``MO_*`` indices). One
#: lent handle instead of two arrays: an array argument costs every call a reference count
#: (a function call even when lent) and some dozen words of arguments.
Metrics = namedtuple("Metrics", ["M", "MO"])


# The kernels receive Params, State and Metrics as numba StructRefs: passed by reference, they compile
# in a fraction of the time a 100-field namedtuple takes (which numba passes by value).
@structref.register
class _ParamsType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


@structref.register
class _StateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


@structref.register
class _MetricsType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


class ParamsRef(structref.StructRefProxy):
    """Params as seen by the kernels."""


class StateRef(structref.StructRefProxy):
    """State as seen by the kernels."""


class MetricsRef(structref.StructRefProxy):
    """Metrics as seen by the kernels."""


structref.define_proxy(ParamsRef, _ParamsType, list(Params._fields))
structref.define_proxy(StateRef, _StateType, list(State._fields))
structref.define_proxy(MetricsRef, _MetricsType, list(Metrics._fields))


def _to_struct(nt):  # pragma: no cover - replaced by the overload below inside numba
    raise NotImplementedError


@overload(_to_struct)
def _to_struct_overload(nt):
    """Build the StructRef from the namedtuple inside numba, so the constructor is compiled
    once and cached on disk (the proxy's own constructor is recompiled in every process)."""
    if not isinstance(nt, types.NamedTuple):
        return None
    names = nt.instance_class._fields
    cls = {Params: _ParamsType, State: _StateType, Metrics: _MetricsType}[nt.instance_class]
    st = cls([(n, types.unliteral(t)) for n, t in zip(names, nt.types)])
    body = "".join(f"    obj.{n} = nt.{n}\n" for n in names)
    scope = {"structref": structref, "st": st}
    exec(f"def impl(nt):\n    obj = structref.new(st)\n{body}    return obj\n", scope)
    return scope["impl"]


@nb.njit(cache=True)
def make_params(nt):
    """Params namedtuple -> ParamsRef for the kernels."""
    return _to_struct(nt)


@nb.njit(cache=True)
def _grown_arrays(S):
    """Copies of the arrays named in GROWN_IN_KERNEL, as the kernels hold them now (copies:
    a field read in a kernel is a lent view, which must not reach Python)."""
    return (S.mb_i.copy(), S.mb_x.copy(), S.mb_key.copy(), S.pf.copy(), S.ls_list.copy(), S.ls_ent.copy(),
            S.ls_since.copy(), S.ls_next.copy(), S.ls_cal.copy(), S.ls_pend.copy(), S.ls_wpos.copy(),
            S.ls_cause.copy(), S.ls_hits.copy(), S.la_ent.copy(), S.la_list.copy(), S.la_step.copy(),
            S.od_rec.copy(), S.od_val.copy(), S.w_mem.copy(), S.carry.copy(), S.aq.copy())


@nb.njit(cache=True)
def _take_outbox(S):
    """Copies of the outbox's messages (ints, floats, sort keys); empties it."""
    n = S.cnt[C_NMSG]
    S.cnt[C_NMSG] = 0
    return S.mb_i[:n].copy(), S.mb_x[:n].copy(), S.mb_key[:n].copy()


@nb.njit(cache=True)
def _take_pending(S):
    """A copy of the step's pending flags (flag, entity, truth); empties them."""
    n = S.cnt[C_NPEND]
    S.cnt[C_NPEND] = 0
    return S.pf[:n].copy()


@nb.njit(cache=True)
def make_state(nt):
    """State namedtuple -> StateRef for the kernels."""
    return _to_struct(nt)


@nb.njit(cache=True)
def make_metrics(nt):
    """Metrics namedtuple -> MetricsRef for the kernels (holding the caller's arrays)."""
    return _to_struct(nt)
