"""`duckwatch demo`: a realistic, deterministic data dir with six models and known incidents."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from duckwatch import demo_models as dm
from duckwatch.collector.sdk import Collector
from duckwatch.config import DataDir

# Incidents the demo plants, as days before the end of the generated period (window = one day).
# The incidents the demo plants: the symptom that pages (family/metric), since which window
# (days before the end), its severity, and the input column that explains it (likely cause).
EXPECTED_INCIDENTS: list[dict[str, Any]] = [
    {"model": "fraud-detector", "what": "txn_seconds_since_last switched from seconds to milliseconds upstream; scores collapse",
     "days_before_end": 12, "days": 12, "family": "performance", "metric": "roc_auc", "column": "txn_seconds_since_last", "severity": "critical"},
    {"model": "churn-model", "what": "broken pipeline: 35% NULLs in tenure_months for 2 days, imputed as 0: scores jump",
     "days_before_end": 15, "days": 2, "family": "output", "metric": "ks", "column": "tenure_months", "severity": "warning"},
    {"model": "house-price", "what": "market shift: market_index +40%; predictions follow, relative error does not move",
     "days_before_end": 20, "days": 20, "family": "output", "metric": "ks", "column": "market_index", "severity": "warning"},
    {"model": "reco-home", "what": "post-processing filter too aggressive: short or empty lists, revenue drops",
     "days_before_end": 8, "days": 8, "family": "kpi", "metric": "total_revenue", "column": "n_returned", "severity": "critical"},
    {"model": "lead-scoring", "what": "CRM export breaks: labels of the last 14 days' leads never arrive",
     "days_before_end": 14, "days": 14, "family": "volume", "metric": "label_coverage_at_age", "column": "", "severity": "critical"},
]  # fmt: skip

# model -> (generator, rows per day, declare() settings and roles)
MODELS: dict[str, tuple[dm.Generator, int, dict[str, Any]]] = {
    "credit-default": (dm.credit, 300, dict(
        display_name="Credit default risk", owner="ana.silva@bank.example", task="binary",
        purpose="Probability that a consumer-loan applicant defaults within 12 months; drives approve/decline.",
        label_horizon_hours=720, missing_label_is_negative=True,
        value_matrix={"tp": 0, "fp": -50, "tn": 120, "fn": -900}, meta={"team": "retail-credit", "tier": "1"},
        id="application_id", timestamp="ts", prediction="declined", scores=["p_default"], label="defaulted",
        segments=["score_band", "age_band"], sensitive=["gender"], categorical=["score_band", "age_band", "gender"])),
    "fraud-detector": (dm.fraud, 500, dict(
        display_name="Card fraud", owner="li.wei@bank.example", task="binary",
        purpose="Scores card transactions in real time; flagged ones go to manual review.",
        label_horizon_hours=96, id="txn_id", timestamp="ts", prediction="flagged", scores=["fraud_score"],
        label="is_fraud", categorical=["merchant_category", "card_present"])),
    "house-price": (dm.house, 300, dict(
        display_name="House price estimate", owner="marta.kowalska@homes.example", task="regression",
        purpose="Instant valuation shown to sellers on the listing form.",
        label_horizon_hours=168, id="listing_id", timestamp="ts", prediction="price_pred", label="price",
        segments=["district"], categorical=["district"])),
    "reco-home": (dm.reco, 400, dict(
        display_name="Home page recommendations", owner="sam.okafor@shop.example", task="ranking",
        purpose="Ranks ten products for the home page carousel.",
        label_horizon_hours=24, id="request_id", timestamp="ts", prediction="recommended_items",
        label="clicked", values=["revenue"], segments=["device"], categorical=["user_segment", "device"])),
    "churn-model": (dm.churn, 300, dict(
        display_name="Customer churn", owner="joana.reis@telco.example", task="binary",
        purpose="Weekly list of customers likely to cancel, for the retention team.",
        label_horizon_hours=336, id="customer_id", timestamp="ts", prediction="will_churn",
        scores=["churn_probability"], label="churned", categorical=["contract"])),
    "lead-scoring": (dm.leads, 300, dict(
        display_name="Lead scoring", owner="paul.martin@saas.example", task="binary",
        purpose="Ranks inbound leads for the sales team.",
        label_horizon_hours=168, id="lead_id", timestamp="ts", prediction="qualified", scores=["p_convert"],
        label="converted", segments=["source"], categorical=["source"])),
}  # fmt: skip


def _timestamps(rng: np.random.Generator, start: pd.Timestamp, days: int, per_day: int) -> pd.Series:
    counts = [
        int(per_day * (0.8 if (start + d * dm.DAY).day_of_week >= 5 else 1.0) * rng.uniform(0.9, 1.1))
        for d in range(days)
    ]
    day = np.repeat(np.arange(days), counts)
    # Busier in the day than at night: a mix of a uniform and a bump around 14:00.
    hours = np.where(
        rng.random(len(day)) < 0.6, rng.normal(14, 3.5, len(day)) % 24, rng.uniform(0, 24, len(day))
    )
    secs = np.sort(day * 86400 + np.floor(hours * 3600)).astype("int64")
    return pd.Series(start + pd.to_timedelta(secs, unit="s"))


def generate(
    data: DataDir,
    seed: int = 7,
    days: int = 60,
    end: datetime | None = None,
    progress: Callable[[str], None] = print,
    models: Sequence[str] | None = None,
    tick: bool = True,
) -> dict[str, Any]:
    """Write the demo models through the Collector SDK, then run one backfill tick; return a summary.

    ``tick=False`` only logs the data, so a caller can replay the job day by day (tests do).
    """
    from duckwatch.jobs.tick import run_tick

    if days < 21:
        raise ValueError(f"--days must be at least 21 to hold the planted incidents (got {days})")
    t0 = time.perf_counter()
    end_ts = pd.Timestamp(end or default_end())
    end_ts = (end_ts.tz_localize("UTC") if end_ts.tzinfo is None else end_ts.tz_convert("UTC")).floor("D")
    start = end_ts - pd.Timedelta(days=days)
    rows: dict[str, int] = {}
    with Collector(data.root) as col:
        for i, (model, (gen, per_day, spec)) in enumerate(MODELS.items()):
            if models is not None and model not in models:
                continue
            rng = np.random.default_rng([seed, i])
            ts = _timestamps(rng, start, days, per_day)
            day = ((ts - start) // dm.DAY).to_numpy().astype(int)
            traffic = gen(rng, ts, day, days, end_ts)
            col.declare(model, timezone="UTC", window="day", **spec)
            if traffic.reference is not None:
                col.log_reference(model, traffic.reference, version="training")
            n = 0
            for version, experiment, frame in traffic.predictions:
                col.log_predictions(model, frame, version=version, experiment=experiment)
                n += len(frame)
            if traffic.outcomes is not None and len(traffic.outcomes):
                col.log_outcomes(model, traffic.outcomes)
            rows[model] = n
            progress(
                f"demo: {model}: {n:,} predictions, {0 if traffic.outcomes is None else len(traffic.outcomes):,} outcomes"
            )
        col.flush()
    errors: list[str] = []
    if tick:
        progress(f"demo: computing {days} days of history (one backfill tick, no notifications)…")
        errors = run_tick(data, now=end_ts.to_pydatetime(), notify=False).errors
    if errors:
        progress("demo: tick errors: " + "; ".join(errors))
    incidents = [
        {
            "model": inc["model"],
            "what": inc["what"],
            "window_start": (end_ts - pd.Timedelta(days=inc["days_before_end"])).date().isoformat(),
            "days": inc["days"],
            "severity": inc["severity"],
            "family": inc["family"],
            "metric": inc["metric"],
            "column": inc["column"],
        }
        for inc in EXPECTED_INCIDENTS
        if inc["model"] in rows
    ]
    took = time.perf_counter() - t0
    progress(f"demo: done in {took:.1f}s: {sum(rows.values()):,} predictions for {len(rows)} models")
    return {
        "models": list(rows),
        "rows": rows,
        "start": start.date().isoformat(),
        "end": end_ts.date().isoformat(),
        "incidents": incidents,
        "tick_errors": errors,
        "seconds": round(took, 2),
    }


def trickle(data: DataDir, seconds: float, rate_per_s: float = 3.0, seed: int = 11) -> int:
    """Log live predictions (and, a little later, outcomes) for the demo models; return rows logged."""
    rng = np.random.default_rng(seed)
    names = list(MODELS)
    logged = 0
    stop_at = time.monotonic() + seconds if seconds > 0 else float("inf")
    delay = 1.0 / max(rate_per_s, 0.01)
    run = f"live{int(time.time())}"
    with Collector(data.root, flush_interval_s=2.0) as col:
        while time.monotonic() < stop_at:
            model = names[logged % len(names)]
            gen, _per_day, spec = MODELS[model]
            now = pd.Timestamp(datetime.now(UTC))
            ts = pd.Series([now])
            traffic = gen(rng, ts, np.array([10_000]), 10_000, now + pd.Timedelta(days=60))
            # After a version switch the first (older) version's frame is empty: take one with a row.
            version, experiment, frame = next(p for p in traffic.predictions if len(p[2]))
            row = frame.iloc[0].to_dict()
            id_col = str(spec["id"])
            row[id_col] = f"{run}-{logged}"
            row["ts"] = now.to_pydatetime()
            col.log_predictions(
                model, {k: _plain(v) for k, v in row.items()}, version=version, experiment=experiment
            )
            logged += 1
            time.sleep(delay)
    return logged


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def is_empty(data: DataDir) -> bool:
    """True when the data dir has no settings and no landed data (README/.gitkeep are fine)."""
    if not data.root.exists():
        return True
    ignore = {".gitkeep", "README.md", ".run", "landing", "published", "locks", "logs"}
    extra = [p for p in data.root.iterdir() if p.name not in ignore]
    landed = data.landing.exists() and any(p.is_file() for p in data.landing.rglob("*"))
    return not extra and not landed


def default_end() -> datetime:
    """Midnight UTC today: the demo's history ends there."""
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)
