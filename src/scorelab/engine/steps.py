"""The order of a step, written once.

``PHASES`` is the day loop's step as data: what happens, in which part (before the step, A
each region's own work, B the exchange of messages between regions, C the national part,
D the stocks), and which function does it in the single-process kernel (``kernel.phases.step``
and ``kernel.phases._local_phase``) and in a sharded run (``engine.sharded``). The step section of
docs/day-loop.md is generated from it (``python tools/gen_step_docs.py``), and
``tests/test_steps.py`` checks that both loops call the functions in this order.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["PARTS", "PHASES", "Phase", "markdown"]


class Phase(NamedTuple):
    part: str  # "before", "A", "B", "C" or "D"
    kernel: str  # the function of engine.kernel.phases (or of the concept's module) that does it
    sharded: str  # the call that does it in a sharded run (a worker's or the driver's)
    title: str
    summary: str  # Markdown


PARTS = {
    "before": "Before the step",
    "A": "A. Each region's own work, for its people and firms",
    "B": "B. Exchange",
    "C": "C. National part",
    "D": "D. Stocks",
}

PHASES: tuple[Phase, ...] = (
    Phase("before", "_search_odds", "search_odds", "Watchlist sizes",
          "The national size W of each watchlist searched by face identification, as the previous step "
          "left it, fixes the step's false-alert chance 1 - (1 - f)^W "
          "([channels.md](channels.md#face-identification-1n-search))."),
    Phase("A", "rollout", "local_phase", "Rollout",
          "Channel coverage now (start date, linear ramp, data minimisation), the perceived risk of each "
          "behaviour in each group of regions (`1 - prod(1 - coverage x detection)` over the channels that "
          "observe it), and the share of people aware of the rules."),
    Phase("A", "release_delayed_records", "local_phase", "Delayed records",
          "Records whose delay has passed reach the system: points, grades, list entries and flags happen "
          "for them now."),
    Phase("A", "expire_and_appeal", "local_phase", "Expiry and appeals",
          "Points of records older than `scoring.recovery` stop counting; records past their channel's "
          "retention or `safeguards.expiry` are deleted; contested erroneous records are removed after the "
          "appeal delay. What a removed record caused and still stands is judged again on the remaining "
          "records: listings it made are lifted, flags it raised withdrawn or their investigations "
          "overturned ([rollout-and-safeguards.md](rollout-and-safeguards.md#what-a-correction-undoes)). "
          "Upheld appeals of wrongful listings lift them after their own delay."),
    Phase("A", "coming_of_age", "local_phase", "Coming of age",
          "With `scoring.coming_of_age`, people who reach the scoring age this step are scored from now "
          "on: their score is what the live records about them make it (a school's records only with "
          "`counts_against: pupil_later`), and their grade enters the histograms, the lists by grade and "
          "the association term ([scoring.md](scoring.md#coming-of-age)). The records already held stay; "
          "those removed before (appeals, expiry) never count."),
    Phase("A", "fade_association", "local_phase", "Association fading",
          "With a half-life, what contacts who stopped counting gave by the association term is taken "
          "back in halvings ([scoring.md](scoring.md#the-association-term))."),
    Phase("A", "review_lists", "local_phase", "List reviews",
          "Reviews that fall due: exits after the minimum stay (and a clean period, or a random wait at "
          "the exit rate), promotions from one list to another (abnormal operations -> serious "
          "dishonesty)."),
    Phase("A", "behaviours", "local_phase", "Behaviours, in both worlds",
          "For each behaviour, candidate acts are drawn for the region and thinned to each actor's rate: "
          "static modifiers, dynamic ones (income, employment), then deterrence for aware people in joined "
          "regions (`exp(-deterrence x deterrability x sensitivity x risk)`). **The twin** is decided here: "
          "it keeps the same candidates and uniforms without deterrence and with its own income, so "
          "per-person differences are the system's effects. Each factual act is offered to the channels "
          "that observe it (coverage, detection, misattribution, a false match; a face searched 1:N "
          "against the watchlist). A record with no delay is visible at once: points, grades, "
          "association-term changes, list entries, flags (which wait for C)."),
    Phase("A", "consequences", "local_phase", "Consequences",
          "Service attempts and periodic applications, drawn like behaviours; each applies if the actor's "
          "grade or lists say so: refusals, fines, discounts, bonuses, income changes, dismissals, score "
          "changes. Each is marked wrongful when it would not apply on true records alone, and by "
          "association when only the social or association term put the grade there."),
    Phase("B", "_exchange", "exchange", "Exchange",
          "Effects on another region's people (a record misattributed there, a contact's social or "
          "association term, a firm's joint punishment reaching its representative) were put in an "
          "outbox; they are delivered in (destination region, source region) order, in rounds until "
          "deliveries create no more."),
    Phase("C", "_serve_flags", "serve_flags", "Investigations",
          "The step's new flags join each flag's queue region by region; each queue is served first come "
          "first served up to its capacity."),
    Phase("C", "_exchange", "exchange", "Exchange of the investigations",
          "Investigation consequences (income, points, listings) are delivered to the people's regions, "
          "as in B."),
    Phase("D", "_stocks", "stocks", "Stocks",
          "Grade counts, list stocks, backlogs, score moments and the association term's reach are written "
          "to the step's metrics row; float sums are kept per region and added in region order."),
    Phase("D", "_trajectories", "trajectories", "Trajectories",
          "The sampled people's score, grade, lists, flags, sanctions, records held and income in both "
          "worlds are written to the step's row (`run.trajectories`; [results.md](results.md#trajectories)); "
          "each region's state writes its own people."),
)


def markdown() -> str:
    """The step as a Markdown list, for docs/day-loop.md."""
    lines: list[str] = []
    part = None
    n = 0
    for ph in PHASES:
        if ph.part != part:
            part = ph.part
            lines.append(f"- **{PARTS[part]}**")
        if ph.part in ("A", "C") and ph.kernel != "_exchange":
            n += 1
            lines.append(f"  {n}. **{ph.title}.** {ph.summary}")
        else:
            lines.append(f"  - **{ph.title}.** {ph.summary}")
    return "\n".join(lines) + "\n"
