"""NannyML 0.13.x peer for bench_chunked.py: drift + realised performance + CBPE in one process.

Usage (in its own venv, with NML_DISABLE_USAGE_LOGGING=1):
    python nannyml_chunked.py ref.parquet preds.parquet D|h
Univariate drift (KS + JS on the numeric features and the score, chi2 + JS on the categorical),
realised performance and CBPE (roc_auc, f1, accuracy), all fitted on the reference and chunked by
``chunk_period``. Prints one JSON line last: chunks, alerts per calculator and in-process stage seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

T0 = time.perf_counter()
import nannyml as nml  # noqa: E402
import pandas as pd  # noqa: E402

FEATURES = [f"f_{i:02d}" for i in range(10)]
CAT, TS, SCORE, PRED, LABEL = "cat", "ts", "score", "prediction", "label"
METRICS = ["roc_auc", "f1", "accuracy"]


def n_alerts(result: object) -> int:
    """Number of alert cells in a NannyML result (analysis period)."""
    df = result.filter(period="analysis").to_df()  # type: ignore[attr-defined]
    cols = [c for c in df.columns if c[-1] == "alert"]
    return int(df[cols].to_numpy().sum())


def main(ref_path: str, cur_path: str, period: str) -> None:
    """Read, fit on the reference, compute on the analysis data; JSON summary last."""
    stages: dict[str, float] = {"import": time.perf_counter() - T0}
    t = time.perf_counter()
    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path)
    stages["read"] = time.perf_counter() - t
    common = {"timestamp_column_name": TS, "chunk_period": period}

    t = time.perf_counter()
    drift = nml.UnivariateDriftCalculator(
        column_names=[*FEATURES, SCORE, CAT],
        treat_as_categorical=[CAT],
        continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
        categorical_methods=["chi2", "jensen_shannon"],
        **common,
    )
    drift.fit(ref)
    drift_res = drift.calculate(cur)
    stages["drift"] = time.perf_counter() - t

    t = time.perf_counter()
    perf = nml.PerformanceCalculator(
        metrics=METRICS,
        y_true=LABEL,
        y_pred=PRED,
        y_pred_proba=SCORE,
        problem_type="classification_binary",
        **common,
    )
    perf.fit(ref)
    perf_res = perf.calculate(cur)
    stages["realised"] = time.perf_counter() - t

    t = time.perf_counter()
    cbpe = nml.CBPE(
        metrics=METRICS,
        y_true=LABEL,
        y_pred=PRED,
        y_pred_proba=SCORE,
        problem_type="classification_binary",
        **common,
    )
    cbpe.fit(ref)
    cbpe_res = cbpe.estimate(cur)
    stages["cbpe"] = time.perf_counter() - t

    t = time.perf_counter()
    summary = {
        "chunks": len(perf_res.filter(period="analysis").to_df()),
        "alerts": {
            "drift": n_alerts(drift_res),
            "realised": n_alerts(perf_res),
            "cbpe": n_alerts(cbpe_res),
        },
    }
    stages["summary"] = time.perf_counter() - t
    summary["stages"] = {k: round(v, 3) for k, v in stages.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
