"""Simulated customers: latent archetypes, segment attributes, latent qualities and timelines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxroi.simulate import params as P

__all__ = [
    "Calendar",
    "CustomerBlock",
    "city_names",
    "draw_categorical",
    "draw_cities",
    "make_customers",
]

DAY = 86_400


@dataclass(frozen=True)
class Calendar:
    """The simulated months: ``bounds[m]`` .. ``bounds[m + 1]`` (epoch seconds) is month ``m``."""

    start: np.datetime64
    months: int

    @property
    def bounds(self) -> np.ndarray:
        first = self.start.astype("datetime64[M]")
        edges = (first + np.arange(self.months + 1)).astype("datetime64[s]")
        return edges.astype(np.int64)

    @property
    def end(self) -> int:
        return int(self.bounds[-1])

    def month_of(self, seconds: np.ndarray) -> np.ndarray:
        """Month index of each timestamp (epoch seconds)."""
        return np.searchsorted(self.bounds, seconds, side="right") - 1


def draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (rows sum to one), vectorised by inverse CDF."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = np.asarray(rng.random(probs.shape[0]))
    return (u[:, None] >= cum).sum(axis=1).astype(np.int8)


@dataclass
class CustomerBlock:
    """Arrays describing ``n`` consecutive customers (row ``i`` is customer ``offset + i``)."""

    offset: int
    archetype: np.ndarray  # int8 index into ARCHETYPES
    plan: np.ndarray
    region: np.ndarray
    occupation: np.ndarray
    channel: np.ndarray
    age: np.ndarray
    signup_s: np.ndarray  # epoch seconds of signup
    first_month: np.ndarray  # month of signup, -1 if before the simulation
    quality: np.ndarray  # (n, 6) baseline latent quality per dimension
    noise: np.ndarray  # e_i
    purchase_rate: np.ndarray  # lambda_i per month
    mean_amount: np.ndarray  # nu_i
    dropout_after: np.ndarray  # number of purchases after which buying stops
    discount: np.ndarray
    city: np.ndarray | None = None  # int8 index into the region's CITIES
    niche: np.ndarray | None = None  # bool: lives in the planted niche city

    @property
    def n(self) -> int:
        return len(self.archetype)


def _arch_table(key: str) -> np.ndarray:
    return np.array([a[key] for a in P.ARCHETYPES.values()], dtype=np.float64)


def make_customers(rng: np.random.Generator, n: int, offset: int, cal: Calendar) -> CustomerBlock:
    """Draw ``n`` customers.

    Parameters
    ----------
    rng
        Random generator of this block.
    n, offset
        Number of customers and the global index of the first one.
    cal
        The simulated months.

    Returns
    -------
    CustomerBlock
    """
    shares = _arch_table("share")
    arch = draw_categorical(rng, np.broadcast_to(shares / shares.sum(), (n, len(shares))))
    plan = draw_categorical(rng, _arch_table("plan")[arch])
    occupation = draw_categorical(rng, _arch_table("occupation")[arch])
    channel = draw_categorical(rng, _arch_table("channel")[arch])
    region = draw_categorical(rng, _arch_table("region")[arch])
    age_ms = _arch_table("age")[arch]
    age = np.clip(np.rint(rng.normal(age_ms[:, 0], age_ms[:, 1])), 18, 90).astype(np.int64)

    bounds = cal.bounds
    existing = rng.random(n) < P.EXISTING_SHARE
    first_month = np.where(existing, -1, rng.integers(0, cal.months, n)).astype(np.int64)
    before = bounds[0] - rng.integers(1, 4 * 365, n) * DAY
    fm = np.maximum(first_month, 0)
    month_len_days = (bounds[fm + 1] - bounds[fm]) // DAY
    during = bounds[fm] + np.floor(rng.random(n) * month_len_days).astype(np.int64) * DAY
    signup_s = np.where(existing, before, during)

    quality = _arch_table("quality")[arch] + rng.standard_normal((n, len(P.DIMENSIONS)))
    noise = rng.normal(0.0, P.SATISFACTION_NOISE_SD, n)
    rate_mean = _arch_table("purchase_rate")[arch]
    purchase_rate = rng.gamma(P.PURCHASE_RATE_SHAPE, rate_mean / P.PURCHASE_RATE_SHAPE)
    amount_mean = _arch_table("mean_amount")[arch]
    mean_amount = rng.gamma(P.SPEND_HETEROGENEITY_SHAPE, amount_mean / P.SPEND_HETEROGENEITY_SHAPE)
    p_drop = rng.beta(*P.DROPOUT_BETA, n)
    dropout_after = rng.geometric(np.clip(p_drop, 1e-6, 1.0))
    discount = np.where(rng.random(n) < 0.2, 0.1, 0.0)
    return CustomerBlock(
        offset=offset,
        archetype=arch,
        plan=plan,
        region=region,
        occupation=occupation,
        channel=channel,
        age=age,
        signup_s=signup_s,
        first_month=first_month,
        quality=quality,
        noise=noise,
        purchase_rate=purchase_rate,
        mean_amount=mean_amount,
        dropout_after=dropout_after,
        discount=discount,
    )


def draw_cities(rng: np.random.Generator, block: CustomerBlock) -> None:
    """Draw each customer's city within their region (``block.city``, ``block.niche``).

    ``rng`` is a stream of its own, so adding cities leaves every other draw unchanged.
    """
    niche = P.PLANTED_NICHE
    region = P.REGIONS.index(niche["region"])
    loyal = list(P.ARCHETYPES).index("loyal_high_value")
    u = rng.random(block.n)
    p = np.where(block.archetype == loyal, niche["share_loyal"], niche["share_other"])
    in_region = block.region == region
    is_niche = in_region & (u < p)
    # elsewhere: the other two cities of the region evenly; other regions: three evenly
    rest = np.where(in_region, 1 + np.floor((u - p) / (1 - p) * 2), np.floor(u * 3))
    block.city = np.where(is_niche, 0, np.clip(rest, 0, 2)).astype(np.int8)
    block.niche = is_niche


def city_names(block: CustomerBlock) -> list[str]:
    """The city name of each customer."""
    assert block.city is not None
    names = np.array([c for r in P.REGIONS for c in P.CITIES[r]], dtype=object)
    return list(names[block.region.astype(np.int64) * 3 + block.city])


def target_mask(block: CustomerBlock, target: str) -> np.ndarray:
    """Boolean mask of the customers matched by an initiative's ``target``.

    Targets are ``column == 'value'`` clauses joined by ``and`` over the customers table, the
    same semantics as ``pandas.DataFrame.query`` on it (and as cxroi's target filter).
    """
    levels = {"plan": P.PLANS, "region": P.REGIONS, "occupation": P.OCCUPATIONS}
    levels["channel"] = P.CHANNELS
    mask = np.ones(block.n, dtype=bool)
    for clause in target.split(" and "):
        column, _, value = (part.strip() for part in clause.partition("=="))
        value = value.strip("'\"")
        if column not in levels or value not in levels[column]:
            raise ValueError(f"unsupported initiative target {target!r}")
        mask &= getattr(block, column) == levels[column].index(value)
    return mask
