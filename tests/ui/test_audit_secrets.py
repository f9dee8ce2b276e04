"""The Audit page never shows a channel secret to an anonymous viewer."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from duckwatch.alerting import monitors
from duckwatch.config import DataDir
from duckwatch.store.settings import Settings

MAIN = Path(__file__).resolve().parents[2] / "src" / "duckwatch" / "ui" / "main.py"
PASSWORD = "pw-audit-page-3c9e1b"
TOKEN = "tokAuditPage77d2"


def test_audit_page_shows_references_not_secrets(
    data_dir: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "model: churn\nchannels:\n"
        f"  - {{kind: webhook, target: 'https://hooks.slack.com/services/T1/B2/{TOKEN}'}}\n"
        f"  - {{kind: email, target: a@example.com, config: {{host: smtp.example.com, password: {PASSWORD}}}}}\n"
    )
    monitors.apply(Settings(data_dir.settings), path, actor="ana")
    monkeypatch.setenv("DUCKWATCH_DATA_DIR", str(data_dir.root))
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    at.switch_page("screens/audit.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # No users: everyone reads the app anonymously.
    assert any("Read-only: no users yet" in str(e.value) for e in at.sidebar.info)
    texts = [
        str(e.value) for kind in ("markdown", "caption", "text", "code", "json") for e in getattr(at, kind)
    ]
    frames = [d.value.to_csv() for d in at.dataframe]
    shown = "\n".join(texts + frames)
    assert "channels.set" in shown  # the channel change is listed...
    assert PASSWORD not in shown and TOKEN not in shown  # ...without its secrets
    assert "${secret:churn.email1.password}" in shown
    assert "https://hooks.slack.com/${secret:churn.webhook1.target}" in shown
