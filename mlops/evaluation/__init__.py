"""Judging a candidate: the metrics of each task, the champion gate, the paired bootstrap of the
improvement (``uncertainty``), slices, the cost of serving, train/test overlap and chart data."""

__all__ = ["cost", "curves", "gate", "metrics", "overlap", "slices", "uncertainty"]
