"""Training: the loop every task shares (run.py) and the figures and reports it writes (reports.py)."""
