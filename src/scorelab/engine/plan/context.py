"""What every planner reads, made once: the scenario, its population and contacts, the index
of each name, and days and dates as steps."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

from scorelab.engine.plan.helpers import fail
from scorelab.engine.plan.params import MAX_BEHAVIOURS, MAX_CHANNELS, MAX_LISTS
from scorelab.engine.plan.part import PlanPart
from scorelab.errors import Problem, ScenarioError
from scorelab.scenario.model import Scenario, check_references
from scorelab.synth.contacts import Contacts
from scorelab.synth.population import Population


@dataclass(frozen=True)
class Context:
    """A scenario checked and indexed: names in scenario order and their indices (``bidx``,
    ``gidx``, ``lidx``, ``didx``), the run's steps, and the converters ``steps``/``step_of``."""

    s: Scenario
    pop: Population
    contacts: Contacts
    dt: float  # days per step
    report_from: int  # a burn-in runs first: step 0 is burn_in days before run.start
    n_steps: int
    seed: int
    beh: list[str]
    bidx: dict[str, int]
    chans: list[str]
    grades: list[str]
    gidx: dict[str, int]
    lists: list[str]
    lidx: dict[str, int]
    cons: list[str]
    flags: list[str]
    domains: list[str]  # sorted
    didx: dict[str, int]
    part: PlanPart | None = None  # the regions the plan is for (``plan.part``); None: every region

    @classmethod
    def of(cls, s: Scenario, pop: Population, contacts: Contacts, part: PlanPart | None = None) -> "Context":
        """Raises ScenarioError if the scenario's cross-references do not hold (a Scenario built
        directly in Python has not been through ``check_references`` yet) or it has more
        channels, behaviours or lists than a record can name."""
        refs = check_references(s)
        if refs:
            raise ScenarioError([Problem("<scenario>", None, None, ".".join(map(str, p)), m) for p, m, _ in refs])
        dt = float(s.run.step)
        report_from = s.run.burn_in_steps
        beh, lists, grades = list(s.behaviours), list(s.lists), [g.name for g in s.grades]
        domains = sorted({b.domain for b in s.behaviours.values()})
        cx = cls(
            s=s, pop=pop, contacts=contacts, dt=dt, report_from=report_from,
            n_steps=report_from + s.run.reported_steps, seed=s.run.seed,
            beh=beh, bidx={b: i for i, b in enumerate(beh)}, chans=list(s.channels),
            grades=grades, gidx={g: i for i, g in enumerate(grades)},
            lists=lists, lidx={name: i for i, name in enumerate(lists)},
            cons=list(s.consequences), flags=list(s.flags),
            domains=domains, didx={d: i for i, d in enumerate(domains)}, part=part,
        )
        # a record stores its behaviour in 16 bits and its channel in 8
        if cx.C > MAX_CHANNELS:
            raise fail("channels", f"{cx.C} channels; a scenario has at most {MAX_CHANNELS}")
        if cx.B > MAX_BEHAVIOURS:
            raise fail("behaviours", f"{cx.B} behaviours; a scenario has at most {MAX_BEHAVIOURS}")
        if cx.L > MAX_LISTS:
            raise fail("lists", f"{cx.L} lists; a scenario has at most {MAX_LISTS}")
        return cx

    # sizes: people, firms, entities; behaviours, channels, grades, lists, consequences, flags;
    # event types (the behaviours, then the consequences)
    @property
    def N(self) -> int:
        return self.pop.n

    @property
    def F(self) -> int:
        return self.pop.firms.n

    @property
    def E(self) -> int:
        return self.N + self.F

    @property
    def B(self) -> int:
        return len(self.beh)

    @property
    def C(self) -> int:
        return len(self.chans)

    @property
    def G(self) -> int:
        return len(self.grades)

    @property
    def L(self) -> int:
        return len(self.lists)

    @property
    def K(self) -> int:
        return len(self.cons)

    @property
    def FL(self) -> int:
        return len(self.flags)

    @property
    def T(self) -> int:
        return self.B + self.K

    def steps(self, days: float | None) -> int:
        """A duration in steps (-1 for none)."""
        return -1 if days is None else int(round(days / self.dt))

    def step_of(self, date: datetime.date | None, before: bool = False) -> int:
        """The step of a date (0 for none); a date before step 0 is step 0 unless ``before``
        (a channel that started earlier is part-way up its ramp at step 0)."""
        if date is None:
            return 0
        k = self.report_from + int(math.floor((date - self.s.run.start).days / self.dt))
        return k if before else max(0, k)


def plan_run(cx: Context) -> dict[str, Any]:
    """Sizes and time: steps of ``dt`` days, reported from ``report_from`` after a burn-in
    (docs/day-loop.md); ``enabled`` 0 is the counterfactual without scoring."""
    return dict(
        n_people=cx.N, n_firms=cx.F, n_steps=cx.n_steps, report_from=cx.report_from, dt=cx.dt,
        horizon_days=float(cx.n_steps * cx.dt), enabled=1 if cx.s.scoring.enabled else 0,
    )
