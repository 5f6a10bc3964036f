"""Sentiment of short reviews (positive or negative): an nnkit task shipped in its own package.

Files: task.py (the Task and its Predictor), layers.py (its one custom layer), sentiment.yaml
(defaults and search space), reviews.tsv (the sample it trains on without --data). This module
stays free of Keras: `nnkit --help` imports it to list the task."""

from nnkit_example_sentiment.task import TASK  # noqa: F401
