"""The applications, one module per task (shipped as `nnkit.apps`)."""
