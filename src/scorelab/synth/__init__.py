"""Synthetic populations and contact layers: ``build_population`` and ``build_contacts``.

See docs/population.md and docs/contacts.md.
"""

from scorelab.synth.contacts import Contacts, CSRLayer, HouseholdLayer, build_contacts
from scorelab.synth.drawn import DrawnLayer
from scorelab.synth.population import Firms, Population, Schools, build_population

__all__ = [
    "Contacts",
    "CSRLayer",
    "DrawnLayer",
    "Firms",
    "HouseholdLayer",
    "Population",
    "Schools",
    "build_contacts",
    "build_population",
]
