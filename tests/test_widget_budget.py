"""The widget's size budget: at most 15 KB gzipped, measured on every run."""

import gzip
from pathlib import Path

WIDGET = Path(__file__).resolve().parents[1] / "ui" / "static" / "widget.js"
SIZE_BUDGET = 15 * 1024  # bytes, gzipped


def test_widget_size_budget():
    size = len(gzip.compress(WIDGET.read_bytes(), compresslevel=9))
    print(f"\nwidget.js: {WIDGET.stat().st_size} bytes, {size} bytes gzipped (budget {SIZE_BUDGET})")
    assert 1000 < size <= SIZE_BUDGET
