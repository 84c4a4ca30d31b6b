"""User-facing applications: command lines, finished runs, evaluate, predict, report."""
