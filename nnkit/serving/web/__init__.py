"""The demo page `nnkit serve` shows at / (index.html) and its script and styles."""
