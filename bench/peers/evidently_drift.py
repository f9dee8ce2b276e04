"""Evidently 0.7.x DataDriftPreset over reference/current Parquet; prints JSON of drifted columns last."""

from __future__ import annotations

import json
import sys

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main(ref_path: str, cur_path: str) -> None:
    """Run the preset and print {"drifted": [...]} as the last line."""
    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path).drop(columns=["ts"], errors="ignore")
    snap = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    drifted = []
    for m in snap.dict()["metrics"]:
        name = str(m.get("metric_name", ""))
        cfg = m.get("config", {}) or {}
        col = cfg.get("column")
        thr = cfg.get("threshold")
        val = m.get("value")
        if col and name.startswith("ValueDrift") and isinstance(val, (int, float)) and thr is not None:
            method = str(cfg.get("method", ""))
            # p-value tests flag below the threshold; distance metrics flag at or above it
            is_p = "p_value" in method or "test" in method.lower()
            if (val < thr) if is_p else (val >= thr):
                drifted.append(col)
    print(json.dumps({"drifted": sorted(set(drifted))}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
