"""Synthetic traffic for the demo models: one function per model, deterministic given the generator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


@dataclass
class Traffic:
    """Predictions (one frame per version/experiment), their outcomes, and a reference set."""

    predictions: list[tuple[str, str, pd.DataFrame]] = field(default_factory=list)
    outcomes: pd.DataFrame | None = None
    reference: pd.DataFrame | None = None


def _sig(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -500.0, 500.0))), dtype=float)


def _ids(prefix: str, n: int, offset: int = 0) -> list[str]:
    return [f"{prefix}-{i:07d}" for i in range(offset, offset + n)]


def _arrivals(
    ids: pd.Series, ts: pd.Series, delay_days: np.ndarray, end: pd.Timestamp, cols: dict[str, Any]
) -> pd.DataFrame:
    """Outcome rows that have arrived by ``end`` (arrival = prediction time + delay)."""
    arrive = ts.reset_index(drop=True) + pd.to_timedelta(delay_days, unit="D")
    keep = (arrive <= end).to_numpy()
    out = pd.DataFrame({"id": ids.to_numpy()[keep], "ts": arrive[keep].reset_index(drop=True)})
    for name, values in cols.items():
        out[name] = np.asarray(values)[keep]
    return out


# -- credit-default --------------------------------------------------------------------------------
def _credit_features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    age = rng.integers(21, 76, n)
    return pd.DataFrame(
        {
            "income": np.round(rng.lognormal(10.8, 0.45, n), 0),
            "debt_ratio": np.round(rng.beta(2, 5, n), 3),
            "age": age.astype(float),
            "employment_years": np.round(np.minimum(rng.gamma(2.0, 3.5, n), age - 18.0), 1),
            "loan_amount": np.round(rng.lognormal(9.3, 0.6, n), -1),
            "age_band": pd.cut(age, [0, 29, 44, 59, 200], labels=["18-29", "30-44", "45-59", "60+"]).astype(
                str
            ),
            "gender": rng.choice(["female", "male", "undisclosed"], n, p=[0.48, 0.49, 0.03]),
        }
    )


def _credit_logit(f: pd.DataFrame) -> np.ndarray:
    return np.asarray(
        -2.6
        + 3.0 * f["debt_ratio"]
        - 0.8 * np.log(f["income"] / 50_000)
        - 0.02 * (f["age"] - 40)
        - 0.05 * f["employment_years"]
        + 0.4 * np.log(f["loan_amount"] / 11_000),
        dtype=float,
    )


def _credit_scored(
    rng: np.random.Generator, f: pd.DataFrame, truth: np.ndarray, noise: float
) -> pd.DataFrame:
    out = f.copy()
    # Less noise ranks applicants better; rescaling keeps the logit's spread (and so the score
    # distribution) equal to v1's, as a recalibrated retrain would: v2 is better, not shifted.
    logit = truth + rng.normal(0, noise, len(f))
    spread = float(np.var(truth)) if len(truth) > 1 else 1.0
    logit = truth.mean() + (logit - truth.mean()) * np.sqrt((spread + 0.81) / (spread + noise**2))
    p = _sig(logit)
    out["p_default"] = np.round(p, 5)
    out["score_band"] = pd.cut(p, [-1, 0.05, 0.1, 0.2, 0.35, 2], labels=list("ABCDE")).astype(str)
    out["declined"] = (p >= 0.25).astype(int)
    return out


def credit(rng: np.random.Generator, ts: pd.Series, day: np.ndarray, days: int, end: pd.Timestamp) -> Traffic:
    """Credit default risk: v1 then v2 from day 30, a shadow challenger, one-sided labels after ~30 days."""
    n = len(ts)
    f = _credit_features(rng, n)
    truth = _credit_logit(f) + rng.normal(0, 0.6, n)
    defaulted = rng.random(n) < _sig(truth)
    ids = pd.Series(_ids("app", n))
    switch = min(30, days // 2)
    t = Traffic()
    champion = pd.concat([ids.rename("application_id"), ts.rename("ts")], axis=1)
    v1 = day < switch
    for version, mask, noise in (("v1", v1, 0.9), ("v2", ~v1, 0.6)):
        scored = _credit_scored(rng, f[mask].reset_index(drop=True), truth[mask], noise)
        frame = pd.concat([champion[mask].reset_index(drop=True), scored], axis=1)
        t.predictions.append((version, "", frame))
    gbm = _credit_scored(rng, f, truth, 0.5)
    t.predictions.append(("gbm-0.3", "challenger-gbm", pd.concat([champion, gbm], axis=1)))
    delay = rng.uniform(25, 35, n)
    arrived = _arrivals(
        ids[defaulted], ts[defaulted], delay[defaulted], end, {"defaulted": np.ones(defaulted.sum(), int)}
    )
    t.outcomes = arrived.rename(columns={"id": "application_id"})
    m = 4000
    rf = _credit_features(rng, m)
    rtruth = _credit_logit(rf) + rng.normal(0, 0.6, m)
    ref = _credit_scored(rng, rf, rtruth, 0.9)
    ref["defaulted"] = (rng.random(m) < _sig(rtruth)).astype(int)
    t.reference = ref
    return t


# -- fraud-detector --------------------------------------------------------------------------------
def fraud(rng: np.random.Generator, ts: pd.Series, day: np.ndarray, days: int, end: pd.Timestamp) -> Traffic:
    """Card fraud: the upstream field txn_seconds_since_last switches to milliseconds at days-12."""
    n = len(ts)
    f = pd.DataFrame(
        {
            "txn_id": _ids("txn", n),
            "ts": ts,
            "amount": np.round(rng.lognormal(3.6, 1.1, n), 2),
            "merchant_category": rng.choice(
                ["grocery", "fuel", "online", "travel", "restaurants"], n, p=[0.3, 0.15, 0.3, 0.05, 0.2]
            ),
            "card_present": rng.choice(["yes", "no"], n, p=[0.6, 0.4]),
            "txn_seconds_since_last": np.round(rng.exponential(5400, n), 0),
        }
    )
    logit = (
        -5.0
        + 0.5 * np.log1p(f["amount"] / 100)
        + 1.3 * (f["card_present"] == "no")
        - 0.00015 * f["txn_seconds_since_last"]
    )
    is_fraud = rng.random(n) < _sig(np.asarray(logit, float) + 1.2)
    # The model reads the field after the upstream change: milliseconds look like "a long time since
    # the last transaction", so scores collapse and the model stops flagging fraud.
    broken = day >= days - 12
    f.loc[broken, "txn_seconds_since_last"] *= 1000
    seen = logit - np.where(broken, 0.00015 * 999 * f["txn_seconds_since_last"] / 1000, 0.0)
    score = _sig(np.asarray(seen, float) + 1.2 + rng.normal(0, 0.8, n))
    f["fraud_score"] = np.round(score, 5)
    f["flagged"] = (score >= 0.3).astype(int)
    t = Traffic(predictions=[("2024.11", "", f)])
    t.outcomes = _arrivals(
        f["txn_id"], ts, rng.uniform(1, 4, n), end, {"is_fraud": is_fraud.astype(int)}
    ).rename(columns={"id": "txn_id"})
    return t


# -- house-price -----------------------------------------------------------------------------------
def house(rng: np.random.Generator, ts: pd.Series, day: np.ndarray, days: int, end: pd.Timestamp) -> Traffic:
    """House prices: market_index jumps +40% at days-20; the model follows it, so error stays put."""

    def frame(n: int, shifted: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        sqft = np.round(rng.lognormal(7.0, 0.35, n), 0)
        beds = np.clip(np.round(sqft / 450 + rng.normal(0, 0.7, n)), 1, 7)
        district = rng.choice(["centre", "riverside", "north-hills", "old-town", "suburbs"], n)
        market = np.round(100 * np.where(shifted, 1.4, 1.0) * (1 + rng.normal(0, 0.015, n)), 2)
        premium = pd.Series(district).map(
            {"centre": 1.5, "riverside": 1.3, "north-hills": 1.1, "old-town": 1.2, "suburbs": 0.9}
        )
        base = 180.0 * sqft * premium.to_numpy() * (1 + 0.03 * beds) * market / 100
        price = base * rng.lognormal(0, 0.08, n)
        pred = base * rng.lognormal(0, 0.05, n)
        out = pd.DataFrame(
            {"sqft": sqft, "bedrooms": beds, "district": district, "year_built": rng.integers(1920, 2024, n).astype(float),
             "market_index": market, "price_pred": np.round(pred, -2)}
        )  # fmt: skip
        return out, np.round(price, -2)

    n = len(ts)
    f, price = frame(n, day >= days - 20)
    f.insert(0, "ts", ts)
    f.insert(0, "listing_id", _ids("lst", n))
    t = Traffic(predictions=[("v3", "", f)])
    t.outcomes = _arrivals(f["listing_id"], ts, np.full(n, 7.0), end, {"price": price}).rename(
        columns={"id": "listing_id"}
    )
    ref, ref_price = frame(3000, np.zeros(3000, bool))
    ref["price"] = ref_price
    t.reference = ref
    return t


# -- reco-home -------------------------------------------------------------------------------------
def reco(rng: np.random.Generator, ts: pd.Series, day: np.ndarray, days: int, end: pd.Timestamp) -> Traffic:
    """Home-page recommender: a post-filter turns too aggressive at days-8 (short/empty lists, less revenue)."""
    n = len(ts)
    aggressive = day >= days - 8
    keep_p = np.where(aggressive, 0.15, 0.95)
    lengths = rng.binomial(10, keep_p)
    catalog = np.array([f"sku-{i:04d}" for i in range(400)])
    popularity = 1.0 / np.arange(1, 401)
    popularity /= popularity.sum()
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(n, len(catalog)))  # top-k without replacement
    top = np.argsort(-keys, axis=1)[:, :10]
    items = [catalog[row[:k]].tolist() for row, k in zip(top, lengths, strict=True)]
    f = pd.DataFrame(
        {
            "request_id": _ids("req", n),
            "ts": ts,
            "user_segment": rng.choice(["new", "returning", "loyal"], n, p=[0.3, 0.5, 0.2]),
            "device": rng.choice(["ios", "android", "web"], n, p=[0.35, 0.4, 0.25]),
            "n_candidates": rng.poisson(60, n).astype(float),
            "n_returned": lengths.astype(float),
            "recommended_items": items,
        }
    )
    clicked = rng.random(n) < 0.35 * lengths / 10
    revenue = np.where(clicked, np.round(rng.lognormal(3.2, 0.5, n), 2), 0.0)
    t = Traffic(predictions=[("two-tower-7", "", f)])
    t.outcomes = _arrivals(
        f["request_id"],
        ts,
        rng.uniform(0.01, 0.5, n),
        end,
        {"clicked": clicked.astype(int), "revenue": revenue},
    ).rename(columns={"id": "request_id"})
    return t


# -- churn-model -----------------------------------------------------------------------------------
def churn(rng: np.random.Generator, ts: pd.Series, day: np.ndarray, days: int, end: pd.Timestamp) -> Traffic:
    """Customer churn: a broken pipeline leaves 35% NULLs in tenure_months for 2 days at days-15."""
    n = len(ts)
    tenure = np.round(rng.gamma(2.0, 14.0, n), 0)
    f = pd.DataFrame(
        {
            "customer_id": _ids("cus", n),
            "ts": ts,
            "tenure_months": tenure,
            "monthly_charges": np.round(rng.normal(55, 18, n).clip(10), 2),
            "contract": rng.choice(["monthly", "one-year", "two-year"], n, p=[0.55, 0.25, 0.2]),
            "support_tickets": rng.poisson(1.2, n).astype(float),
        }
    )
    rest = np.asarray(0.4 * f["support_tickets"] + 1.0 * (f["contract"] == "monthly"), float)
    churned = rng.random(n) < _sig(-1.0 - 0.04 * tenure + rest)
    spike = (day >= days - 15) & (day < days - 13) & (rng.random(n) < 0.35)
    # The serving code imputes a missing tenure as 0 months: new customers churn most, so the
    # broken pipeline also pushes scores up; that output shift is the symptom that pages.
    seen = np.where(spike, 0.0, tenure)
    p = _sig(-1.0 - 0.04 * seen + rest + rng.normal(0, 0.7, n))
    f["churn_probability"] = np.round(p, 5)
    f["will_churn"] = (p >= 0.5).astype(int)
    f.loc[spike, "tenure_months"] = np.nan
    t = Traffic(predictions=[("2.1.0", "", f)])
    t.outcomes = _arrivals(
        f["customer_id"], ts, rng.uniform(10, 14, n), end, {"churned": churned.astype(int)}
    ).rename(columns={"id": "customer_id"})
    return t


# -- lead-scoring ----------------------------------------------------------------------------------
def leads(rng: np.random.Generator, ts: pd.Series, day: np.ndarray, days: int, end: pd.Timestamp) -> Traffic:
    """Lead scoring: the CRM export breaks and labels stop arriving at days-10."""
    n = len(ts)
    f = pd.DataFrame(
        {
            "lead_id": _ids("lead", n),
            "ts": ts,
            "source": rng.choice(
                ["webinar", "ads", "referral", "organic", "event"], n, p=[0.15, 0.35, 0.1, 0.3, 0.1]
            ),
            "company_size": np.round(rng.lognormal(4, 1.3, n), 0),
            "pages_viewed": rng.poisson(4, n).astype(float),
            "email_opens": rng.poisson(2, n).astype(float),
        }
    )
    logit = np.asarray(
        -2.5 + 0.25 * f["pages_viewed"] + 0.3 * f["email_opens"] + 1.0 * (f["source"] == "referral"), float
    )
    converted = rng.random(n) < _sig(logit)
    p = _sig(logit + rng.normal(0, 0.6, n))
    f["p_convert"] = np.round(p, 5)
    f["qualified"] = (p >= 0.4).astype(int)
    t = Traffic(predictions=[("v5", "", f)])
    out = _arrivals(f["lead_id"], ts, rng.uniform(2, 5, n), end, {"converted": converted.astype(int)})
    stop = end - pd.Timedelta(days=10)
    t.outcomes = out[out["ts"] < stop].rename(columns={"id": "lead_id"}).reset_index(drop=True)
    return t


Generator = Callable[[np.random.Generator, pd.Series, np.ndarray, int, pd.Timestamp], Traffic]
