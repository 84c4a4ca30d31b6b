"""Evaluation helpers: metrics, predictions over fixed sets, importance, plots."""
