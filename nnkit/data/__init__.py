"""Data: where datasets live, how files are fetched, and readers for their formats."""
