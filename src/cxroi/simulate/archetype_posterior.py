"""The Bayes-optimal reference for archetype recovery: each customer's posterior archetype.

The simulator draws every customer's latent archetype :math:`a` with prior share
:math:`\\pi_a` and then the observable data from the archetype's own distributions
(:data:`cxroi.simulate.params.ARCHETYPES`). Inverting that mixture with Bayes' rule,

.. math::

    P(a \\mid x_i) = \\frac{\\pi_a \\, p(x_i \\mid a)}{\\sum_b \\pi_b \\, p(x_i \\mid b)},

gives the best any classifier can do from the same data: the maximum a posteriori (MAP)
archetype minimises the expected number of misassigned customers, and its adjusted Rand index
(Hubert & Arabie 1985) against the true archetypes is the reference a clustering of the
observable data is judged by (:func:`bayes_optimal_ari`).

The likelihood :math:`p(x_i \\mid a)` multiplies, for customer :math:`i` observed for
:math:`T_i` months (signup or the start of the simulation, to churn or its end):

- **attributes** (exact): plan, occupation, region and channel (categorical), age (a normal
  rounded to whole years and clipped to 18-90, so the end years carry the tails);
- **NPS group** :math:`g` (mixed over): the latent satisfaction is
  :math:`s \\sim N(w^\\top\\mu_a, \\lVert w \\rVert^2 + \\sigma_e^2)`, the relationship score
  :math:`\\operatorname{clip}(\\operatorname{round}(a + b s), 0, 10)`. A customer with a
  relationship answer contributes the probability of their last score (and fixes
  :math:`g`); one without is mixed over :math:`g` with :math:`P(g \\mid a)`;
- **purchases** (given :math:`g`): :math:`N \\sim \\mathrm{NegBin}` (a Poisson with a
  :math:`\\Gamma(r, \\lambda_a / r)` rate times the group's frequency multiplier, over
  :math:`T_i`), stopped by the Beta-geometric dropout :math:`D`, so :math:`K = \\min(N, D)`
  with :math:`P(D > n) = B(\\alpha, \\beta + n) / B(\\alpha, \\beta)`;
- **spend** (given :math:`K` and :math:`g`): a sum of :math:`K` Gamma amounts,
  :math:`\\Gamma(pK, \\nu m_g / p)`, with :math:`\\nu \\sim \\Gamma(q, \\bar\\nu_a / q)`
  integrated out by Gauss-Hermite quadrature in :math:`\\log \\nu` around the integrand's mode;
- **tickets**: Poisson with the archetype's monthly rate over :math:`T_i`;
- **churn** (given :math:`g`): a geometric survival with monthly hazard
  :math:`h_0 \\, HR_g \\, f_a` over the months at risk;
- **what they are made of** (exact): each purchase's product and each ticket's channel
  (categorical with the archetype's mix), and the app sessions (Poisson with the
  archetype's monthly rate over :math:`T_i`).

Approximations, stated: initiatives' lifts, the slow-response effects on satisfaction and
churn, the closed-loop penalty and the planted niche's churn factor are left out; the month
fractions of the simulator are replaced by days / (365.25 / 12); the NPS group is taken as
constant over the months (it is, but for initiatives). City is not modelled: it is drawn
within the region (already in the likelihood), with the niche's dependence on the archetype
left out. Comments, CSAT, CES, ratings, event outcomes and transaction channels are not
used. So this is the Bayes-optimal assignment *given these observables*; a clustering that
uses more could in principle exceed it (on 20,000 customers, seed 7: adjusted Rand index
0.25 from the attributes alone, 0.75 with everything above).

Written here, not imported from a library, because the reference must be the simulator's own
generative model, term by term; only :func:`scipy.special` and
:func:`sklearn.metrics.adjusted_rand_score` are borrowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import special, stats

from cxroi.simulate import params as P
from cxroi.simulate.behaviour import _PRODUCT_MIX, PRODUCTS

__all__ = ["ArchetypePosterior", "archetype_posterior", "bayes_optimal_ari"]

DAYS_PER_MONTH = 365.25 / 12
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_LOG_WEIGHTS = np.log(_WEIGHTS / np.sqrt(2 * np.pi))


@dataclass
class ArchetypePosterior:
    """Posterior archetype probabilities of each simulated customer.

    Attributes
    ----------
    customer_id
        The customers, in the order of the customers table.
    names
        The archetypes (columns of ``probability``).
    probability
        ``(customers, archetypes)`` posterior probabilities; each row sums to one.
    truth
        The true archetype of each customer (from the company's truth file).
    """

    customer_id: np.ndarray
    names: list[str]
    probability: np.ndarray
    truth: np.ndarray

    @property
    def map(self) -> np.ndarray:
        """The maximum a posteriori archetype of each customer."""
        return np.asarray(self.names, dtype=object)[self.probability.argmax(axis=1)]

    @property
    def accuracy(self) -> float:
        """Share of customers whose MAP archetype is their true one."""
        return float(np.mean(self.map == self.truth))

    def frame(self) -> pd.DataFrame:
        """``customer_id``, ``archetype`` (true), ``map`` and one probability column each."""
        out = pd.DataFrame({"customer_id": self.customer_id, "archetype": self.truth})
        out["map"] = self.map
        for j, name in enumerate(self.names):
            out[name] = self.probability[:, j]
        return out


def _arr(key: str) -> np.ndarray:
    return np.array([a[key] for a in P.ARCHETYPES.values()], dtype=np.float64)


def _codes(col: pa.ChunkedArray, levels: tuple[str, ...]) -> np.ndarray:
    idx = pc.index_in(col, value_set=pa.array(levels)).to_numpy(zero_copy_only=False)
    return np.nan_to_num(np.asarray(idx, dtype=float), nan=-1).astype(np.int64)


def _mix_counts(
    table: pa.Table, col: str, levels: tuple[str, ...], ids: pa.ChunkedArray
) -> np.ndarray:
    """``(customers, levels)``: rows of ``table`` per customer and level of ``col``."""
    frame = table.select(["customer_id", col]).to_pandas()
    tab = pd.crosstab(frame["customer_id"], frame[col]).reindex(columns=list(levels), fill_value=0)
    full = tab.reindex(ids.to_numpy(zero_copy_only=False), fill_value=0)
    return full.to_numpy(dtype=float)


def _per_customer(table: pa.Table, ids: pa.ChunkedArray, aggs: dict[str, tuple]) -> pd.DataFrame:
    grouped = table.group_by("customer_id").aggregate(list(aggs.values()))
    frame = grouped.to_pandas().rename(columns={f"{c}_{f}": k for k, (c, f) in aggs.items()})
    base = pd.DataFrame({"customer_id": ids.to_numpy(zero_copy_only=False)})
    return base.merge(frame, on="customer_id", how="left")


def _age_loglik(age: np.ndarray) -> np.ndarray:
    mu, sd = _arr("age")[:, 0][None, :], _arr("age")[:, 1][None, :]
    x = age.astype(float)[:, None]
    hi = np.where(x >= 90, np.inf, x + 0.5)
    lo = np.where(x <= 18, -np.inf, x - 0.5)
    p = stats.norm.cdf((hi - mu) / sd) - stats.norm.cdf((lo - mu) / sd)
    return np.log(np.maximum(p, 1e-300))


def _score_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Latent-satisfaction interval of each relationship score 0-10 (``a + b s`` rounded)."""
    k = np.arange(11, dtype=float)
    lo = np.where(k == 0, -np.inf, (k - 0.5 - P.NPS_A) / P.NPS_B)
    hi = np.where(k == 10, np.inf, (k + 0.5 - P.NPS_A) / P.NPS_B)
    return lo, hi


def _score_probs() -> np.ndarray:
    """``(archetypes, 11)``: probability of each relationship NPS score by archetype."""
    w = np.array([P.DRIVER_WEIGHTS[d] for d in P.DIMENSIONS])
    mean = _arr("quality") @ w
    sd = np.sqrt(w @ w + P.SATISFACTION_NOISE_SD**2)
    lo, hi = _score_bounds()
    return stats.norm.cdf((hi[None, :] - mean[:, None]) / sd) - stats.norm.cdf(
        (lo[None, :] - mean[:, None]) / sd
    )


def _group_of_score() -> np.ndarray:
    k = np.arange(11)
    return np.where(k >= 9, 0, np.where(k >= 7, 1, 2))  # promoter, passive, detractor


def _purchase_loglik(k: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """log P(K = k) of the NegBin count stopped by Beta-geometric dropout (broadcasting)."""
    r = P.PURCHASE_RATE_SHAPE
    a, b = P.DROPOUT_BETA
    prob = r / (r + np.maximum(mean, 1e-12))
    log_pn = stats.nbinom.logpmf(k, r, prob)
    log_sf_n = stats.nbinom.logsf(k, r, prob)
    beta0 = special.betaln(a, b)
    log_d_ge = np.where(k > 0, special.betaln(a, b + k - 1) - beta0, 0.0)  # P(D >= k)
    log_d_gt = special.betaln(a, b + k) - beta0  # P(D > k)
    # P(D = k) = P(D >= k) - P(D > k), for k >= 1
    gap = np.minimum(log_d_gt - log_d_ge, -1e-12)
    log_d_eq = np.where(k > 0, log_d_ge + np.log1p(-np.exp(gap)), -np.inf)
    return np.logaddexp(log_pn + log_d_ge, log_d_eq + log_sf_n)


def _spend_loglik(k: np.ndarray, spend: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log density of the spend of ``k`` purchases whose mean amount is Gamma with mean
    ``scale`` (``nu`` integrated out by Gauss-Hermite quadrature in log nu); 0 when k = 0."""
    p, q = P.SPEND_SHAPE, P.SPEND_HETEROGENEITY_SHAPE
    pos = k > 0
    kk = np.where(pos, k, 1).astype(float)
    s = np.where(pos, np.maximum(spend, 0.01), 1.0)
    shape = p * kk
    a = p * s / 1.0  # S ~ Gamma(shape, theta / p): exponent -p S / theta
    bb = q / scale  # theta ~ Gamma(q, scale / q)
    v = q - shape  # integrand in u = log theta: v u - a e^-u - bb e^u
    x = (v + np.sqrt(v**2 + 4 * a * bb)) / (2 * bb)
    mode = np.log(x)
    sd = 1.0 / np.sqrt(a / x + bb * x)
    u = mode[..., None] + sd[..., None] * _NODES
    f = v[..., None] * u - a[..., None] * np.exp(-u) - bb[..., None] * np.exp(u)
    # Gauss-Hermite (probabilists'): int e^f du = sd * sum w_j e^(f(u_j) + z_j^2 / 2)
    log_int = np.log(sd) + special.logsumexp(f + _NODES**2 / 2 + _LOG_WEIGHTS, axis=-1)
    log_int = log_int + 0.5 * np.log(2 * np.pi)
    const = (
        (shape - 1) * np.log(s)
        + shape * np.log(p)
        - special.gammaln(shape)
        - special.gammaln(q)
        - q * np.log(scale / q)
    )
    return np.where(pos, const + log_int, 0.0)


def archetype_posterior(
    company: object,
    *,
    behaviour: bool = True,
    perception: bool = True,
) -> ArchetypePosterior:
    """Each simulated customer's posterior over the latent archetypes.

    Parameters
    ----------
    company
        A :class:`cxroi.simulate.Company` (``generate(...)`` or ``Company.read(dir)``).
    behaviour
        Also use purchases, spend, tickets, churn, product and ticket-channel mixes and app
        sessions (else the attributes only).
    perception
        Also use the last relationship-survey NPS score.

    Returns
    -------
    ArchetypePosterior
    """
    tables = company.tables  # type: ignore[attr-defined]
    truth = company.truth  # type: ignore[attr-defined]
    cust = tables["customers"]
    ids = cust["customer_id"]
    n = cust.num_rows
    names = list(P.ARCHETYPES)
    log_prior = np.log(_arr("share") / _arr("share").sum())
    ll = np.broadcast_to(log_prior, (n, len(names))).copy()
    for col, levels in (
        ("plan", P.PLANS),
        ("occupation", P.OCCUPATIONS),
        ("region", P.REGIONS),
        ("channel", P.CHANNELS),
    ):
        probs = np.log(_arr(col))
        ll += probs.T[_codes(cust[col], levels)]
    ll += _age_loglik(cust["age"].to_numpy())

    if behaviour or perception:
        ll += _behaviour_loglik(tables, truth, ids, behaviour=behaviour, perception=perception)
    post = np.exp(ll - special.logsumexp(ll, axis=1, keepdims=True))
    arch = company.archetypes.to_pandas()  # type: ignore[attr-defined]
    true = (
        pd.DataFrame({"customer_id": ids.to_numpy(zero_copy_only=False)})
        .merge(arch[["customer_id", "archetype"]], on="customer_id", how="left")["archetype"]
        .astype(str)
        .to_numpy(dtype=object)
    )
    return ArchetypePosterior(ids.to_numpy(zero_copy_only=False), names, post, true)


def _behaviour_loglik(
    tables: dict[str, pa.Table],
    truth: dict,
    ids: pa.ChunkedArray,
    *,
    behaviour: bool,
    perception: bool,
) -> np.ndarray:
    """log of the group-mixed likelihood of NPS, purchases, spend, tickets and churn."""
    gen = truth["generator"]
    start = pd.Timestamp(gen["start"])
    end = pd.Timestamp(gen["end"])
    cust = tables["customers"]
    signup = pd.to_datetime(cust["signup_date"].to_pandas()).to_numpy()
    tx = _per_customer(
        tables["transactions"], ids, {"k": ("amount", "count"), "spend": ("amount", "sum")}
    )
    tk = _per_customer(tables["tickets"], ids, {"tickets": ("ticket_id", "count")})
    con = tables["contracts"]
    main = con.filter(pc.not_equal(con["plan"], "addon"))
    ends = _per_customer(main, ids, {"end": ("end_date", "max")})
    churned = ends["end"].notna().to_numpy()
    stop = pd.to_datetime(ends["end"]).fillna(end).to_numpy()
    lo = np.maximum(signup, start.to_datetime64())
    months = np.maximum((stop - lo) / np.timedelta64(1, "D"), 0.0) / DAYS_PER_MONTH
    k = tx["k"].fillna(0).to_numpy(float)
    spend = tx["spend"].fillna(0.0).to_numpy(float)
    tickets = tk["tickets"].fillna(0).to_numpy(float)

    # months at risk: calendar months after the signup month, to the churn month
    def month_index(t: np.ndarray) -> np.ndarray:
        y = t.astype("datetime64[M]").astype(int) - start.to_datetime64().astype(
            "datetime64[M]"
        ).astype(int)
        return y

    n_months = int(gen["months"])
    first = np.where(signup < start.to_datetime64(), -1, month_index(signup))
    last = np.where(churned, month_index(stop), n_months - 1)
    at_risk = np.maximum(last - first, 0).astype(float)  # incl. the churn month

    score_p = _score_probs()  # (A, 11)
    g_of = _group_of_score()
    group_p = np.stack([score_p[:, g_of == g].sum(axis=1) for g in range(3)], axis=1)  # (A, 3)
    log_w = np.log(np.maximum(group_p, 1e-300))[None, :, :] * np.ones((len(ids), 1, 1))
    if perception:
        rs = tables["responses"]
        rel = rs.filter(pc.and_(pc.equal(rs["survey"], "relationship"), pc.is_valid(rs["nps"])))
        last = (
            rel.select(["customer_id", "ts", "nps"]).to_pandas().sort_values("ts")
            .groupby("customer_id")["nps"].last()
        )  # fmt: skip
        score = pd.Series(ids.to_numpy(zero_copy_only=False)).map(last).to_numpy(float)
        has = ~np.isnan(score)
        sc = np.nan_to_num(score, nan=0).astype(int)
        # with an answer: P(score | a) on its group only
        lp = np.log(np.maximum(score_p.T[sc], 1e-300))  # (n, A)
        own = g_of[sc][:, None] == np.arange(3)[None, :]  # (n, 3)
        fixed = np.where(own[:, None, :], lp[:, :, None], -np.inf)
        log_w = np.where(has[:, None, None], fixed, log_w)
    if not behaviour:
        return special.logsumexp(log_w, axis=2)

    fm = np.array([P.FREQUENCY_MULTIPLIER[g] for g in P.NPS_GROUPS])
    sm = np.array([P.SPEND_MULTIPLIER[g] for g in P.NPS_GROUPS])
    hr = np.array([P.NPS_GROUP_HAZARD_RATIO[g] for g in P.NPS_GROUPS])
    rate = _arr("purchase_rate")[None, :, None] * fm[None, None, :]
    mean_n = rate * months[:, None, None]
    kk = k[:, None, None] * np.ones_like(mean_n)
    ll = log_w + _purchase_loglik(kk, mean_n)
    scale = _arr("mean_amount")[None, :, None] * sm[None, None, :] * np.ones_like(mean_n)
    ll += _spend_loglik(kk, spend[:, None, None] * np.ones_like(mean_n), scale)
    h = np.minimum(P.BASE_MONTHLY_CHURN * _arr("churn_factor")[None, :, None] * hr, 0.999)
    ar = at_risk[:, None, None]
    ll += np.where(
        churned[:, None, None],
        (np.maximum(ar - 1, 0)) * np.log1p(-h) + np.log(h),
        ar * np.log1p(-h),
    )
    ll += stats.poisson.logpmf(tickets[:, None], _arr("ticket_rate")[None, :] * months[:, None])[
        :, :, None
    ]
    out = special.logsumexp(ll, axis=2)
    # what purchases and tickets are made of, and app sessions: free of the NPS group
    product_mix = np.array([_PRODUCT_MIX[a] for a in P.ARCHETYPES])  # (A, products)
    out += _mix_counts(tables["transactions"], "product", PRODUCTS, ids) @ np.log(product_mix).T
    channel_mix = np.array([a["ticket_channel"] for a in P.ARCHETYPES.values()])
    out += _mix_counts(tables["tickets"], "channel", P.TICKET_CHANNELS, ids) @ np.log(channel_mix).T
    ev = tables["events"]
    app = _mix_counts(ev.filter(pc.equal(ev["touchpoint"], "app")), "touchpoint", ("app",), ids)
    out += stats.poisson.logpmf(app, _arr("app_rate")[None, :] * months[:, None])
    return out


def bayes_optimal_ari(company: object, **options: bool) -> float:
    """Adjusted Rand index of the MAP archetype against the true one (Hubert & Arabie 1985).

    ``options`` are those of :func:`archetype_posterior`.
    """
    from sklearn.metrics import adjusted_rand_score

    post = archetype_posterior(company, **options)
    return float(adjusted_rand_score(post.truth, post.map))
