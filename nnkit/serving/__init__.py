"""`nnkit serve`: the HTTP app (app.py), the request checks it shares (inputs.py), the per-model batching worker (batches.py), and the web page (web/)."""
