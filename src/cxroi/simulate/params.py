"""The fixed parameters of the simulated company: its causal truth.

Every number that a later analysis is meant to recover lives here, once, and is copied verbatim
into ``ground_truth.json`` by :func:`static_truth`. The generator modules read these constants;
they never restate them.

The causal chain (A -> C -> B) is

.. math::

    q_{ik}(t) = \\mu_{a(i),k} + z_{ik} + \\sum_j \\delta_j [i \\in T_j][t \\ge t_j], \\quad
    z_{ik} \\sim N(0, 1)

    s_i(t) = \\sum_k w_k q_{ik}(t) + e_i, \\quad e_i \\sim N(0, \\sigma_e^2)

    \\text{nps}_{it} = \\operatorname{clip}(\\operatorname{round}(a + b\\,(s_i(t) - \\lambda_{slow}
    \\text{slow}_{it}) + \\eta), 0, 10)

    h_i(t) = h_0 \\cdot HR_{g_i(t)} \\cdot HR_{slow}^{\\text{slow}_{i,t-1}} \\cdot f_{a(i)}

where :math:`g_i(t)` is the NPS group of the customer's relationship score (``eta = 0``, no
transient effects) and :math:`\\text{slow}_{i,t-1}` flags a ticket with a first response over
the threshold in the previous calendar month.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ARCHETYPES",
    "DIMENSIONS",
    "DRIVER_WEIGHTS",
    "INITIATIVES",
    "THEMES",
    "static_truth",
]

SCHEMA_VERSION = 1
REVISION = 2
"""The simulator's revision, raised whenever the same seed gives other rows (2: the backstage
events and the degraded touchpoint); ``ground_truth.json`` records it under ``generator``, and
data written by another revision are stale."""

DIMENSIONS: tuple[str, ...] = ("delivery", "price", "support", "product", "app", "staff")
"""Latent quality dimensions; each has one attribute rating ``rating_<dimension>``."""

DRIVER_WEIGHTS: dict[str, float] = {
    "delivery": 0.35,
    "price": 0.25,
    "support": 0.18,
    "product": 0.12,
    "app": 0.07,
    "staff": 0.03,
}
SATISFACTION_NOISE_SD = 0.30

# Link from latent satisfaction to scores. Relationship NPS has no response noise (it is the
# customer's stable attitude); transactional surveys add N(0, NPS_TRANSACTIONAL_NOISE_SD).
NPS_A = 7.6
NPS_B = 3.0
NPS_TRANSACTIONAL_NOISE_SD = 0.8
CSAT_A = 3.9
CSAT_B = 1.4
CSAT_NOISE_SD = 0.7
CES_A = 5.2  # CES 1-7, higher = easier ("the company made it easy")
CES_SUPPORT_QUALITY = 0.7
CES_SLOW = -1.5
CES_NOISE_SD = 0.9
RATING_SCALE = (1, 10)
RATING_A = 6.5
RATING_B = 1.6
RATING_NOISE_SD = 1.1

NPS_GROUPS: tuple[str, ...] = ("promoter", "passive", "detractor")

# Churn: monthly probability h0 * HR(group) * HR(slow previous month) * archetype factor.
BASE_MONTHLY_CHURN = 0.012
NPS_GROUP_HAZARD_RATIO: dict[str, float] = {"promoter": 1.0, "passive": 1.6, "detractor": 2.8}
SLOW_RESPONSE_THRESHOLD_HOURS = 24.0
SLOW_RESPONSE_HAZARD_RATIO = 1.5
SLOW_RESPONSE_SATISFACTION_EFFECT = -0.8  # latent units, in the ticket's month and the next

# Spend: BG/NBD-like purchasing, Gamma-Gamma amounts, both scaled by the NPS group.
FREQUENCY_MULTIPLIER: dict[str, float] = {"promoter": 1.0, "passive": 0.85, "detractor": 0.65}
SPEND_MULTIPLIER: dict[str, float] = {"promoter": 1.0, "passive": 0.9, "detractor": 0.75}
PURCHASE_RATE_SHAPE = 2.0  # r of Gamma(r, alpha) heterogeneity of monthly purchase rates
SPEND_SHAPE = 3.0  # p: amount ~ Gamma(p, nu / p)
SPEND_HETEROGENEITY_SHAPE = 4.0  # q: nu ~ Gamma(q, mean / q)
DROPOUT_BETA = (1.0, 80.0)  # after each purchase the customer stops buying with prob p ~ Beta

PLAN_PRICES: dict[str, float] = {"basic": 15.0, "standard": 30.0, "premium": 60.0}
PLANS: tuple[str, ...] = tuple(PLAN_PRICES)
ADDON_SHARE = 0.10
ADDON_PRICE = 7.5
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
OCCUPATIONS: tuple[str, ...] = (
    "student",
    "professional",
    "manager",
    "tradesperson",
    "self_employed",
    "retired",
)
CHANNELS: tuple[str, ...] = ("web", "app", "store", "phone")
CITIES: dict[str, tuple[str, ...]] = {
    "north": ("northgate", "ashford", "kelby"),
    "south": ("southport", "marlow", "rye"),
    "east": ("eastleigh", "dunmore", "halton"),
    "west": ("harbourside", "westfield", "penrith"),
    "central": ("midtown", "oakham", "bramley"),
}
"""Three cities per region; a customer's city is drawn within their region."""

# The planted opportunity: a high-value niche with high churn. Within its region, loyal
# high-value customers live in the niche city with probability ``share_loyal`` and everyone
# else with ``share_other`` (the rest split evenly over the region's other cities; in other
# regions the three cities are equally likely). Its customers' churn hazard is multiplied by
# ``churn_factor`` on top of everything else (not through perception: a competitor opened
# there). The city is drawn from its own random stream, so the other draws do not change.
PLANTED_NICHE: dict[str, Any] = {
    "column": "city",
    "value": "harbourside",
    "region": "west",
    "share_loyal": 0.80,
    "share_other": 0.10,
    "churn_factor": 5.0,
}
EXISTING_SHARE = 0.70  # customers already signed up when the simulation starts

TICKET_CHANNELS: tuple[str, ...] = ("chat", "phone", "email")
# log-normal first-response time in hours: (median, sigma)
FIRST_RESPONSE_HOURS: dict[str, tuple[float, float]] = {
    "chat": (1.0, 1.6),
    "phone": (0.15, 1.2),
    "email": (14.0, 1.0),
}
TICKET_FIXED_COST: dict[str, float] = {"chat": 3.0, "phone": 6.0, "email": 2.0}
HANDLING_COST_PER_HOUR = 30.0
TICKET_CATEGORIES: tuple[str, ...] = ("billing", "delivery", "technical", "account", "product")

SURVEY_RATES = {
    "relationship_per_month": 0.07,
    "purchase_per_transaction": 0.07,
    "support_per_ticket": 0.35,
    "onboarding_per_signup": 0.25,
}
COMMENT_SHARE = 0.5
CASE_SHARE_OF_DETRACTORS = 0.5
CASE_DUE_DAYS = 3  # a case is due this many days after it opens (the [cases] due_days default)
# Closed loop: cases are opened on relationship-survey detractors; a random share is held out
# (status held_out, no follow-up). A held-out customer's churn hazard is multiplied by the
# ratio below in each of the months after the response month, up to the window.
FOLLOWUP_HOLDOUT_SHARE = 0.2
NOT_FOLLOWED_UP_HAZARD_RATIO = 1.5
FOLLOWUP_EFFECT_MONTHS = 6

THEMES: dict[str, str] = {
    "delivery": "delivery",
    "price": "price",
    "support_wait": "support",
    "product_quality": "product",
    "app_usability": "app",
    "staff_friendliness": "staff",
}
"""Comment themes and the quality dimension each one reports on."""

# Archetypes: share, plan mix (basic, standard, premium), age (mean, sd), occupation weights,
# region weights, channel weights, quality means per dimension, purchase rate per month, mean
# amount, churn factor, tickets per month, ticket channel mix (chat, phone, email), app
# sessions per month.
ARCHETYPES: dict[str, dict[str, Any]] = {
    "price_sensitive": {
        "share": 0.26,
        "plan": (0.65, 0.30, 0.05),
        "age": (31.0, 9.0),
        "occupation": (0.35, 0.20, 0.05, 0.20, 0.10, 0.10),
        "region": (0.15, 0.30, 0.20, 0.15, 0.20),
        "channel": (0.45, 0.30, 0.15, 0.10),
        "quality": (0.1, -0.5, 0.1, 0.0, 0.1, 0.1),
        "purchase_rate": 1.45,
        "mean_amount": 25.0,
        "churn_factor": 1.3,
        "ticket_rate": 0.055,
        "ticket_channel": (0.5, 0.2, 0.3),
        "app_rate": 0.15,
    },
    "loyal_high_value": {
        "share": 0.16,
        "plan": (0.05, 0.35, 0.60),
        "age": (52.0, 11.0),
        "occupation": (0.02, 0.30, 0.35, 0.08, 0.15, 0.10),
        "region": (0.30, 0.10, 0.20, 0.25, 0.15),
        "channel": (0.30, 0.20, 0.35, 0.15),
        "quality": (0.5, 0.4, 0.4, 0.5, 0.3, 0.5),
        "purchase_rate": 3.1,
        "mean_amount": 90.0,
        "churn_factor": 0.6,
        "ticket_rate": 0.055,
        "ticket_channel": (0.2, 0.6, 0.2),
        "app_rate": 0.10,
    },
    "digital_self_service": {
        "share": 0.24,
        "plan": (0.30, 0.55, 0.15),
        "age": (34.0, 8.0),
        "occupation": (0.15, 0.45, 0.15, 0.05, 0.15, 0.05),
        "region": (0.15, 0.15, 0.20, 0.15, 0.35),
        "channel": (0.30, 0.65, 0.03, 0.02),
        "quality": (0.2, 0.0, 0.2, 0.2, 0.6, 0.0),
        "purchase_rate": 2.1,
        "mean_amount": 45.0,
        "churn_factor": 1.0,
        "ticket_rate": 0.04,
        "ticket_channel": (0.8, 0.05, 0.15),
        "app_rate": 0.8,
    },
    "at_risk_complainer": {
        "share": 0.14,
        "plan": (0.35, 0.45, 0.20),
        "age": (45.0, 14.0),
        "occupation": (0.05, 0.25, 0.15, 0.25, 0.10, 0.20),
        "region": (0.25, 0.25, 0.20, 0.15, 0.15),
        "channel": (0.35, 0.15, 0.25, 0.25),
        "quality": (-0.6, -0.4, -0.8, -0.4, -0.3, -0.5),
        "purchase_rate": 1.45,
        "mean_amount": 40.0,
        "churn_factor": 1.5,
        "ticket_rate": 0.2,
        "ticket_channel": (0.3, 0.3, 0.4),
        "app_rate": 0.10,
    },
    "occasional_browser": {
        "share": 0.20,
        "plan": (0.50, 0.40, 0.10),
        "age": (40.0, 15.0),
        "occupation": (0.15, 0.25, 0.10, 0.15, 0.15, 0.20),
        "region": (0.20, 0.20, 0.20, 0.20, 0.20),
        "channel": (0.50, 0.20, 0.20, 0.10),
        "quality": (0.0, 0.0, 0.0, -0.1, 0.0, 0.0),
        "purchase_rate": 0.8,
        "mean_amount": 35.0,
        "churn_factor": 1.1,
        "ticket_rate": 0.03,
        "ticket_channel": (0.4, 0.3, 0.3),
        "app_rate": 0.05,
    },
}

# Touchpoints: stage and the quality dimension each one expresses.
TOUCHPOINTS: dict[str, tuple[str, str]] = {
    "ad": ("awareness", "price"),
    "website": ("awareness", "app"),
    "checkout": ("purchase", "price"),
    "delivery": ("purchase", "delivery"),
    "onboarding_call": ("onboarding", "staff"),
    "app": ("use", "app"),
    "support_chat": ("support", "support"),
    "support_phone": ("support", "support"),
    "support_email": ("support", "support"),
    "renewal_email": ("renewal", "price"),
}
STAGES: tuple[str, ...] = ("awareness", "purchase", "onboarding", "use", "support", "renewal")
EVENT_SAMPLE = {"checkout_per_transaction": 0.15, "delivery_per_transaction": 0.15}

# Backstage steps of a delivery, as events of channel "backstage" in the delivery's stage: the
# order is packed PACK_HOURS after the purchase, handed to the carrier HANDOVER_HOURS later, and
# delivered the original 1-5 days after the handover (uniform ranges, hours).
BACKSTAGE_EVENTS: tuple[str, ...] = ("order_packed", "carrier_handover")
BACKSTAGE_CHANNEL = "backstage"
PACK_HOURS = (1.0, 10.0)
HANDOVER_HOURS = (4.0, 20.0)

# The degraded touchpoint (the journey's planted pain point): over the last DEGRADED_MONTHS
# calendar months (at most a sixth of the run) the warehouse hands parcels over late (the time from
# order_packed to carrier_handover is DEGRADED_HANDOVER_HOURS instead) and the latent
# satisfaction of every response given at the touchpoint drops by the effect. Comments,
# relationship answers and churn are untouched: the drop is local to the touchpoint's scores.
DEGRADED: dict[str, Any] = {
    "touchpoint": "delivery",
    "backstage_event": "order_packed",  # the step whose time to the next one grows
    "months": 4,
    "satisfaction_effect": -0.6,  # latent units
    "handover_hours": (36.0, 84.0),
}

# Initiatives: two per maturity level, each on its own region x plan cell (so no customer is
# reached by two), launched at different dates with different costs; seven cells are reached by
# none and serve as comparison customers. ``start`` is a fraction of the simulated months (the
# launch is the first day of that month); ``shift`` is added to the latent quality of the
# touchpoint's dimension for targeted customers from launch on. ``holdout_share`` holds out
# that share of the target group at random (cxroi.holdout) and they are not reached.
# ``expected_effect`` is the planners' expectation in NPS points (from a pilot), not the truth.
# Costs are for a company of COST_BASE_CUSTOMERS and scale with the company's size.
COST_BASE_CUSTOMERS = 20_000


def _init(n, name, level, touchpoint, target, start, shift, cost, running, owner, expected,
          holdout=None):  # fmt: skip
    return {
        "initiative_id": f"I{n:03d}",
        "name": name,
        "level": level,
        "touchpoint": touchpoint,
        "dimension": TOUCHPOINTS[touchpoint][1],
        "target": target,
        "start": start,
        "shift": shift,
        "cost": cost,
        "running_cost": running,
        "owner": owner,
        "expected_effect": expected,
        "holdout_share": holdout,
    }


INITIATIVES: tuple[dict[str, Any], ...] = (
    _init(1, "Support triage bot", "efficiency", "support_chat",
          "region == 'north' and plan == 'basic'", 0.40, 1.2, 15_000.0, 300.0, "support_ops",
          21.0),
    _init(2, "Self-service returns", "efficiency", "support_email",
          "region == 'east' and plan == 'standard'", 0.55, 0.9, 10_000.0, 200.0, "support_ops",
          15.0, holdout=0.3),
    _init(3, "Next-day delivery", "excellence", "delivery",
          "region == 'north' and plan == 'premium'", 0.50, 1.1, 90_000.0, 1_500.0, "logistics",
          30.0),
    _init(4, "Onboarding calls", "excellence", "onboarding_call",
          "region == 'west' and plan == 'basic'", 0.35, 1.0, 40_000.0, 800.0, "success",
          4.0),
    _init(5, "Fair price promise", "product_innovation", "checkout",
          "region == 'south' and plan == 'standard'", 0.55, 1.0, 50_000.0, 0.0, "pricing",
          27.0),
    _init(6, "Flexible renewal plan", "product_innovation", "renewal_email",
          "region == 'central' and plan == 'premium'", 0.45, 1.2, 30_000.0, 500.0, "pricing",
          27.0),
    _init(7, "New mobile app", "experience_innovation", "app",
          "region == 'south' and plan == 'basic'", 0.60, 1.5, 120_000.0, 2_000.0, "digital",
          10.0),
    _init(8, "Personal shopper chat", "experience_innovation", "website",
          "region == 'east' and plan == 'premium'", 0.45, 1.3, 60_000.0, 1_000.0, "digital",
          9.0),
)  # fmt: skip


def initiative_costs(initiative: dict[str, Any], customers: int) -> tuple[float, float]:
    """One-off and monthly running cost of ``initiative`` in a company of ``customers``."""
    scale = customers / COST_BASE_CUSTOMERS
    return round(initiative["cost"] * scale, 2), round(initiative["running_cost"] * scale, 2)


def start_month(initiative: dict[str, Any], months: int) -> int:
    """Month index (0-based) in which ``initiative`` launches in a run of ``months`` months."""
    return min(max(1, round(initiative["start"] * months)), months - 1)


def static_truth() -> dict[str, Any]:
    """The parameters of the causal model, as they appear in ``ground_truth.json``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "driver_weights": {f"rating_{k}": w for k, w in DRIVER_WEIGHTS.items()},
        "satisfaction": {
            "formula": "s = sum_k w_k * q_k + e; q_k = archetype mean + N(0,1) + initiative "
            "shifts; e ~ N(0, noise_sd)",
            "noise_sd": SATISFACTION_NOISE_SD,
            "quality_sd": 1.0,
            "dimensions": list(DIMENSIONS),
        },
        "score_links": {
            "nps": {
                "formula": "clip(round(a + b * s_eff + eta), 0, 10); s_eff = s + "
                "slow_response_satisfaction_effect * slow window; eta = 0 for the "
                "relationship survey, N(0, transactional_noise_sd) otherwise",
                "a": NPS_A,
                "b": NPS_B,
                "transactional_noise_sd": NPS_TRANSACTIONAL_NOISE_SD,
            },
            "csat": {
                "formula": "clip(round(a + b * s_eff + N(0, noise_sd)), 1, 5)",
                "a": CSAT_A,
                "b": CSAT_B,
                "noise_sd": CSAT_NOISE_SD,
            },
            "ces": {
                "formula": "clip(round(a + c * q_support + d * slow_ticket + N(0, noise_sd)), "
                "1, 7); higher = easier; support surveys only",
                "a": CES_A,
                "c": CES_SUPPORT_QUALITY,
                "d": CES_SLOW,
                "noise_sd": CES_NOISE_SD,
            },
            "rating": {
                "formula": "clip(round(a + b * q_k + N(0, noise_sd)), 1, 10); relationship "
                "survey only",
                "scale": list(RATING_SCALE),
                "a": RATING_A,
                "b": RATING_B,
                "noise_sd": RATING_NOISE_SD,
            },
        },
        "nps_groups": {"promoter": [9, 10], "passive": [7, 8], "detractor": [0, 6]},
        "churn": {
            "formula": "monthly churn probability = base_monthly_churn * "
            "nps_group_hazard_ratio[group of relationship NPS this month] * "
            "slow_response_hazard_ratio ** (slow ticket in previous calendar month) * "
            "archetype churn_factor * not_followed_up_hazard_ratio ** (a held-out case "
            "within closed_loop.effect_months before); first churn ends all contracts; no "
            "churn in the signup "
            "month; transactions, tickets, events and responses stop at the end_date",
            "base_monthly_churn": BASE_MONTHLY_CHURN,
        },
        "nps_group_hazard_ratio": dict(NPS_GROUP_HAZARD_RATIO),
        "closed_loop": {
            "cases_on": "relationship-survey detractor responses, with probability "
            "case_share_of_detractors",
            "case_share_of_detractors": CASE_SHARE_OF_DETRACTORS,
            "holdout_share": FOLLOWUP_HOLDOUT_SHARE,
            "not_followed_up_hazard_ratio": NOT_FOLLOWED_UP_HAZARD_RATIO,
            "effect_months": FOLLOWUP_EFFECT_MONTHS,
            "followed_vs_held_out_hazard_ratio": 1 / NOT_FOLLOWED_UP_HAZARD_RATIO,
            "mechanism": "a held-out case's customer has the monthly churn probability "
            "multiplied by not_followed_up_hazard_ratio in each of the effect_months calendar "
            "months after the response month; following up removes that, so followed vs "
            "held-out cases have hazard ratio followed_vs_held_out_hazard_ratio in that window",
        },
        "slow_response_threshold_hours": SLOW_RESPONSE_THRESHOLD_HOURS,
        "slow_response_hazard_ratio": SLOW_RESPONSE_HAZARD_RATIO,
        "slow_response_satisfaction_effect": SLOW_RESPONSE_SATISFACTION_EFFECT,
        "slow_response_mechanism": "a ticket whose first_response_at - opened_at exceeds the "
        "threshold lowers latent satisfaction of every response in the ticket's calendar month "
        "and the next by the effect (latent units; b * effect NPS-score points), and "
        "multiplies the churn probability of the next calendar month by the hazard ratio; it "
        "does not change the NPS group used for churn and spend",
        "spend": {
            "formula": "monthly purchases ~ Poisson(lambda_i * frequency_multiplier[group] * "
            "share of month alive), lambda_i ~ Gamma(r, archetype purchase_rate / r); "
            "purchasing stops for good after each purchase with prob p_i ~ Beta(a, b); amount "
            "~ Gamma(p, nu_i * spend_multiplier[group] / p), nu_i ~ Gamma(q, archetype "
            "mean_amount / q)",
            "r": PURCHASE_RATE_SHAPE,
            "p": SPEND_SHAPE,
            "q": SPEND_HETEROGENEITY_SHAPE,
            "dropout_beta": list(DROPOUT_BETA),
        },
        "frequency_multiplier": dict(FREQUENCY_MULTIPLIER),
        "spend_multiplier": dict(SPEND_MULTIPLIER),
        "plan_prices": dict(PLAN_PRICES),
        "themes": dict(THEMES),
        "archetypes": {
            name: {
                "share": a["share"],
                "plan_mix": dict(zip(PLANS, a["plan"], strict=True)),
                "region_mix": dict(zip(REGIONS, a["region"], strict=True)),
                "occupation_mix": dict(zip(OCCUPATIONS, a["occupation"], strict=True)),
                "channel_mix": dict(zip(CHANNELS, a["channel"], strict=True)),
                "age_mean": a["age"][0],
                "quality_means": dict(zip(DIMENSIONS, a["quality"], strict=True)),
                "purchase_rate_per_month": a["purchase_rate"],
                "mean_amount": a["mean_amount"],
                "churn_factor": a["churn_factor"],
                "tickets_per_month": a["ticket_rate"],
                "ticket_channel_mix": dict(zip(TICKET_CHANNELS, a["ticket_channel"], strict=True)),
            }
            for name, a in ARCHETYPES.items()
        },
        "touchpoints": {tp: {"stage": s, "dimension": d} for tp, (s, d) in TOUCHPOINTS.items()},
        "backstage_events": {
            "events": list(BACKSTAGE_EVENTS),
            "channel": BACKSTAGE_CHANNEL,
            "pack_hours": list(PACK_HOURS),
            "handover_hours": list(HANDOVER_HOURS),
            "mechanism": "every delivery event follows an order_packed and a carrier_handover "
            "event of the same customer and stage: packed U(pack_hours) after the purchase, "
            "handed over U(handover_hours) later, delivered 1-5 days after the handover",
        },
        "survey_rates": dict(SURVEY_RATES),
        "comment_share": COMMENT_SHARE,
        "cities": {r: list(c) for r, c in CITIES.items()},
        "target_semantics": "pandas DataFrame.query expression evaluated on the customers table",
    }
