"""Which backend trains each kind of model fastest, as measured by benchmarks/peers.py (each
backend training the same model side by side; benchmarks/results/peers.json). `nnkit env`
prints it. A kind of model or device nobody has measured says so rather than guess.

Kinds of model, not tasks: shared code names no task (the README maps tasks to kinds)."""

# Training speed relative to the fastest backend on a 2-core CPU (1.0: the fastest), from
# benchmarks/results/peers.json, 2026-12-01 (2 repeats on shared cores: noisy).
MEASURED_CPU = {
    "convolutional image classifier (LeNet-5)": {"tensorflow": 1.0, "jax": 0.38, "torch": 0.46},
    "recurrent language model": {"tensorflow": 0.83, "jax": 1.0, "torch": 0.67},
    "recurrent tagger": {"tensorflow": 0.44, "jax": 1.0, "torch": 0.39},
    "attention encoder-decoder": {},
}


def fastest_backends():
    """{"cpu": {kind of model: "backend (others' relative speeds)"}, "gpu": "..."} for `nnkit env`."""
    cpu = {}
    for kind, speeds in MEASURED_CPU.items():
        if not speeds:
            cpu[kind] = "not measured"
            continue
        best = max(speeds, key=speeds.get)
        others = ", ".join(f"{backend} {speeds[backend] / speeds[best]:.2f}x" for backend in speeds if backend != best)
        cpu[kind] = f"{best} ({others})"
    return {"cpu": cpu, "gpu": "not measured (no GPU machine has run benchmarks/gpu.py yet)"}
