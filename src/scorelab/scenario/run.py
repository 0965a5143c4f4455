"""How long a run lasts, from when, with which seed, in steps of what length (``run``)."""

from __future__ import annotations

import datetime as _dt
import math

from pydantic import Field, field_validator, model_validator

from scorelab.scenario.base import Count, Date, Duration, Seed, StrictModel, count, duration

#: Shortest step (days): about 1.4 minutes.
MIN_STEP = 0.001
MAX_STEP = 365.25
#: Most steps in one run.
MAX_STEPS = 2**16 - 1
#: Most people whose paths a run keeps (``run.trajectories``): each costs 8 numbers a step.
MAX_TRAJECTORIES = 1000
TrajectoryCount = count(MAX_TRAJECTORIES, what="people")


class Run(StrictModel):
    """How long, from when, with which seed."""

    days: Count = Field(365, description="days simulated and reported")
    seed: Seed = Field(0, description="seed of every random stream")
    start: Date = Field("2018-01-01", description="calendar date of day 0")
    burn_in: Duration = Field(0.0, description="days the system (and its twin) runs before day 0, from "
                              "start - burn_in, so that day 0 finds it in operation; not reported "
                              "(docs/day-loop.md#burn-in)")
    step: duration(MIN_STEP, MAX_STEP) = Field(1.0, description="time step in days")
    counterfactual: bool = Field(True, description="the counterfactual twin (no scoring) runs alongside: always "
                                 "true, since every figure is measured against it")
    trajectories: TrajectoryCount = Field(
        10, description="people (a reproducible sample) whose score, grade, lists, flags, sanctions, records held "
                        "and income in both worlds are kept every step (trajectories.parquet; "
                        "docs/results.md#trajectories); at most the population")

    @property
    def burn_in_steps(self) -> int:
        """The whole steps the burn-in runs (3 years of 365.25 days are 1,096 daily steps)."""
        return int(math.ceil(self.burn_in / self.step))

    @property
    def reported_steps(self) -> int:
        """The whole steps reported: ``days`` rounded up to a whole number of steps."""
        return int(math.ceil(self.days / self.step - 1e-9 * max(1.0, self.days / self.step)))

    def rounding_note(self) -> str | None:
        """Why the run covers more days than ``days`` (a step that does not divide them), or None."""
        covered = self.reported_steps * self.step
        if covered <= self.days * (1 + 1e-9):
            return None
        return (f"run.days {self.days} is not a whole number of steps of {self.step:g} days: the run covers "
                f"{covered:,g} days ({self.reported_steps:,} steps), and its figures are over those")

    @field_validator("counterfactual")
    @classmethod
    def _twin_always_runs(cls, v: bool) -> bool:
        if not v:  # (the twin's acts are drawn in the same step as the system's: there is no run without it)
            raise ValueError("false is not supported: the counterfactual twin always runs, and every figure is "
                             "measured against it")
        return v

    @model_validator(mode="after")
    def _steps_fit(self) -> "Run":
        steps = self.burn_in_steps + self.reported_steps
        if steps > MAX_STEPS:  # (an entity's last flag step is stored in 16 bits)
            raise ValueError(f"{self.burn_in:g} days of burn-in and {self.days} days in steps of {self.step} days "
                             f"is {steps:,} steps; a run has at most {MAX_STEPS:,}")
        first = self.start.toordinal() - math.ceil(self.burn_in)
        last = self.start.toordinal() + self.days + math.ceil(self.step)
        if first < _dt.date.min.toordinal() or last > _dt.date.max.toordinal():
            raise ValueError(f"from {self.burn_in:g} days before {self.start} to {self.days} days after it leaves "
                             f"the calendar (years 1 to 9999)")
        return self
