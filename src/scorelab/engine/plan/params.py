"""The plan's tables (``Params``, one flat namedtuple the kernels read), the ``Plan`` that
labels them, and the codes and limits they are written in."""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from scorelab.scenario.model import DYNAMIC_ATTRIBUTES, LAYERS
from scorelab.codes import NO_GRADE  # noqa: F401 (re-exported: the plan's users read it here)

KIND_CODES = {"wrongdoing": 0, "civic": 1, "disfavoured": 2, "neutral": 3}
CONSEQUENCE_CODES = {"refusal": 0, "fine": 1, "discount": 2, "bonus": 3, "income": 4, "dismissal": 5, "score": 6,
                     "priority": 7, "promotion": 8}
DYNAMIC_CODES = {name: i for i, name in enumerate(DYNAMIC_ATTRIBUTES)}  # income 0, employed 1
#: ``c_mis_graph`` of a channel whose misattribution lands on a uniformly drawn other person.
MIS_ANYONE = -1
#: ``c_mis_graph`` of a channel whose misattribution lands on another member of the household
#: (an id range of the population: no graph is stored).
MIS_HOUSEHOLD = -2
#: Contact graphs misattribution can draw from (``mis_idx`` is a tuple of this many, a fixed
#: type for the kernels): at most one per layer and one for all layers together.
MIS_SLOTS = len(LAYERS) + 1
#: The association term's sums are kept in whole units of this many points (see kernel.association.restain)
ASSOCIATION_UNIT = 1e-6

#: Most channels, behaviours and lists in a scenario (a record's channel and behaviour, and a
#: list slot's list, are 8, 16 and 16 bits).
MAX_CHANNELS = 2**8 - 1
MAX_BEHAVIOURS = MAX_LISTS = 2**15 - 1

# The fields by concept, in the order the kernels were compiled for (compile_plan names the
# planner that fills each group).
Params = namedtuple(
    "Params",
    [
        # sizes and time
        "n_people", "n_firms", "n_steps", "report_from", "dt", "horizon_days", "enabled", "seed_keys",
        # entities
        "ent_city", "ent_group", "ent_scored", "firm_rep", "income_pct", "city_join", "city_sig", "reg_base", "reg_p0", "reg_f0",
        "reg_h0",
        "tr_ids", "coa_on", "coa_ptr", "coa_ent", "coa_step",
        # event types
        "t_firm", "t_lam", "t_cls_row", "t_fac", "t_dyn_max", "cls", "cls_shift",
        "dm_ptr", "dm_attr", "dm_lo", "dm_hi", "dm_factor",
        # behaviours
        "b_kind", "b_domain", "b_deter", "b_income", "bc_ptr", "bc_idx",
        # channels
        "c_cov", "cb_det", "cb_fm", "c_mis_p", "c_mis_graph", "c_delay", "c_ttl", "ttl_vals", "c_start", "c_ramp",
        "c_enabled", "c_gated", "b_ungated", "c_keys", "c_cov_seed", "sig_ok", "bsc_ptr", "bsc_idx",
        "c_id_beh", "c_id_list", "c_id_hit", "c_id_fmr", "c_id_row", "c_id_wfac",
        "c_au_trip", "c_au_talk", "c_au_pass", "c_au_row", "c_au_key", "b_au_extra",
        "c_cr_day", "c_cr_act", "c_cr_par", "c_cr_row", "n_cr",
        # contacts for misattribution and the social term
        "mis_ptr", "mis_idx", "mis_drawn", "drawn", "hh_start", "soc_ptr", "soc_idx", "soc_w",
        # the association term (guilt by association)
        "as_on", "as_ptr", "as_idx", "as_pen", "as_rew", "as_lists", "as_pgr", "as_rgr", "as_cap", "as_half",
        # scoring
        "scheme", "base", "lo", "hi", "clip_lo", "clip_hi", "n_dims", "dim_w", "dim_start", "dim_rec", "dim_inc",
        "pts", "cap_row", "cap", "set_cap", "recovery", "g_from",
        "n_views", "view_dom", "view_true",
        # lists
        "l_actor", "l_beh", "l_min", "l_within", "l_grades", "l_from", "l_after_listed", "l_after",
        "l_clean", "l_exit_rate", "l_joint_row", "l_watch_row", "l_red",
        # consequences
        "k_kind", "k_grades", "k_lists", "k_prob", "k_amount", "k_income", "k_points", "k_view", "k_sanction", "k_bucket", "k_lbucket",
        "k_out_on", "k_out_p", "k_out_succ", "k_out_fail", "k_employer", "ent_public", "k_through", "ent_employer",
        "k_loan", "ln_on",
        # flags
        "f_beh", "f_min", "f_within", "f_lists", "f_cap", "f_income", "f_points", "f_list", "f_cooldown",
        # responses and safeguards
        "resp_on", "aware0", "aware_growth", "aware_max", "deterrence", "group_sens",
        "appeal_p", "appeal_success", "appeal_delay", "la_p", "la_delay",
        # streams
        "k_events", "aware_seed", "k_appeal", "k_exit", "k_mis", "k_lappeal",
    ],
)


#: Small tables the result tables read after the plan's others are freed: each region's first
#: person (its people), the sampled people of the trajectories
KEPT_TABLES = ("reg_p0", "tr_ids")


@dataclass
class Plan:
    """Numeric tables for a run plus the names needed to label its output."""

    params: Params
    behaviour_names: list[str]
    channel_names: list[str]
    grade_names: list[str]
    list_names: list[str]
    consequence_names: list[str]
    flag_names: list[str]
    consequence_sanction: list[bool]
    #: the channels that search faces 1:N, in the order of their metric rows (params.c_id_row)
    identifying_names: list[str]
    #: the channels that listen in cars, in the order of their metric rows (params.c_au_row)
    audio_names: list[str] = dataclasses.field(default_factory=list)
    #: the channels that watch classrooms, in the order of their metric rows (params.c_cr_row)
    classroom_names: list[str] = dataclasses.field(default_factory=list)
    #: the population's groups when the run counts loans by group (params.ln_on), else none
    lending_groups: list[str] = dataclasses.field(default_factory=list)
    #: the firm lists with joint punishment, in the order of their representatives' metric rows
    #: (params.l_joint_row)
    joint_list_names: list[str] = dataclasses.field(default_factory=list)

    @property
    def delays(self) -> bool:
        """Whether a channel delays its records (they wait in the pool of delayed records)."""
        return bool((self.params.c_delay > 0).any())

    def without_tables(self) -> "Plan":
        """The same names and sizes (what labels a run's output) without the arrays the day
        loop reads: per-entity tables and contact graphs, some of them the layers' own arrays;
        the small ones the result tables read are kept (``KEPT_TABLES``)."""
        P = self.params
        return dataclasses.replace(self, params=P._replace(
            **{k: None for k, v in P._asdict().items() if isinstance(v, (np.ndarray, tuple)) and k not in KEPT_TABLES}))
