"""Task configs (defaults and search spaces), shipped in the wheel as `nnkit.configs`."""
