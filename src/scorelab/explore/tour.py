"""The guided tour: a few saved views, each with the one sentence a teacher would say."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stop:
    title: str
    sentence: str
    scenario: str
    settings: tuple[tuple[str, float | bool], ...] = ()


TOUR = (
    Stop("Rongcheng as published", "A city's points system at 1 in 134 of its people: who it sanctions, and what "
         "lawful behaviour falls against the twin city without it.", "rongcheng-2018"),
    Stop("What a few % of errors do to a city", "Five times Rongcheng's misattribution (records naming the wrong "
         "person about 5 % of the time): people are listed for what others did.", "rongcheng-2018",
         (("misattribution", 5.0),)),
    Stop("Errors in a credit score", "A commercial credit index at five times its misattribution: people are "
         "refused credit on records that name the wrong person.", "zhima-index", (("misattribution", 5.0),)),
    Stop("What appeals fix and what they don't", "The same errors with FTC-sized appeals (26 % contested, 81 % "
         "upheld): contested records go, but most errors are never contested and a refusal already suffered "
         "stays.", "zhima-index", (("misattribution", 5.0), ("appeals", 0.26), ("appeals_success", 0.81))),
    Stop("Deterrence is also chilling", "Triple the response to being watched: wrongdoing falls, and so do lawful "
         "acts the system happens to record.", "rongcheng-2018", (("deterrence", 3.0),)),
    Stop("Safeguards together", "Rongcheng under EU-style safeguards: minimised data, purpose limitation, appeals, "
         "expiry and transparency.", "safeguarded"),
    Stop("Face search in crowds", "A national face search at a false-match rate of 1 in 100,000 per comparison: "
         "nearly every alert names a bystander.", "national-2027", (("face_fmr", -5.0),)),
)
