"""Classroom monitoring of pupils (docs/classroom.md): a channel's ``classroom`` block.

Pupils are the people under the scoring age who go to school. School days and the watched
conduct (attention, moods) are behaviours, so the conduct is chilled by deterrence and counted
in the twin, as in-car audio's talk. Records go to the school (data held about minors) and, as
``counts_against`` says, against nobody else, against the parents now, or against the pupil later.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scorelab.scenario.base import Name, Probability, StrictModel

__all__ = ["Classroom"]


class Classroom(StrictModel):
    """Classroom cameras that observe pupils' attention and moods (docs/classroom.md).

    A covered pupil's act of ``watched`` is seen with the channel's detection (a true record
    about the pupil); a covered school day raises a record of ``watched`` where none was with
    ``false_positive`` (a false record). With ``counts_against: parents`` each such record about a
    pupil (a person under the scoring age) is also a record against the pupil's parents, the
    first two scored members of the household: it scores, lists and flags them, and is corrected
    with the pupil's (appeal, expiry). With ``counts_against: pupil_later`` the pupil's own record
    counts against the pupil once they are scored (``scoring.coming_of_age``); otherwise it never
    does. Scored students' own records are ordinary.
    """

    school_days: Name = Field(description="the behaviour whose acts are a pupil's days in class (or weeks: its rate per "
                              "person, school days per day); must be observed by the channel; leaves no record itself")
    watched: Name = Field(description="the behaviour whose acts are the watched conduct in class (inattention, a "
                          "mood shown; lawful, deterrable); must be observed by the channel; the channel's detection "
                          "is the chance an act is recorded")
    false_positive: Probability = Field(description="probability that a covered school day raises a record of the "
                                        "watched conduct although there was none (an erroneous record about the pupil)")
    counts_against: Literal["none", "parents", "pupil_later"] = Field(
        "none", description="whom a pupil's record counts against besides being held by the school: none; "
        "parents (each record is also a record against the pupil's parents now, reversed when it is corrected); "
        "or pupil_later (the record counts against the pupil from the day they reach the scoring age, if it "
        "is still held then; needs scoring.coming_of_age)")
