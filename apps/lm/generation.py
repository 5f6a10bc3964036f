"""Using a trained language model: the log-probability of every word of a stream, and sampling
continuations.

Both run a stream model, which carries the recurrent state from call to call: `reset()` starts
a new stream, `predict_on_batch(ids (1, words))` gives the logits (1, words, vocabulary). That is
the stateful Keras inference model (batch 1) in `KerasStream`, or the ONNX step model in
nnkit.runtime.onnx.RecurrentStream. Each word is fed exactly once: generating n words costs n
one-word steps however long the prompt, and a stream of any length is scored window by window
without losing context.
"""

import numpy as np

from nnkit.models.decoding import log_softmax

WINDOW = 128  # words fed per call when scoring; one shape, so the backend compiles it once


class KerasStream:
    """The stateful Keras inference model as a stream model."""

    def __init__(self, model):
        self.model = model

    def reset(self):
        from nnkit.layers.stateful import reset_states

        reset_states(self.model)

    def predict_on_batch(self, ids):
        return self.model.predict_on_batch(ids)


def as_stream(model):
    """A stream model as it is, a stateful Keras model wrapped in KerasStream."""
    return model if hasattr(model, "reset") else KerasStream(model)


def stream_log_probabilities(model, ids, window=WINDOW):
    """log p(ids[i] | ids[:i]) for every i >= 1, from a fresh state; ids[0] is only context."""
    model = as_stream(model)
    model.reset()
    inputs, targets = np.asarray(ids[:-1], np.int32), np.asarray(ids[1:])
    window = min(window, len(inputs))
    scores = np.empty(len(targets))
    for start in range(0, len(inputs), window):
        chunk = inputs[start: start + window]
        padded = np.zeros((1, window), np.int32)  # the last window is padded; its tail is ignored
        padded[0, : len(chunk)] = chunk
        logits = model.predict_on_batch(padded)[0, : len(chunk)]
        scores[start: start + len(chunk)] = log_softmax(logits)[np.arange(len(chunk)), targets[start: start + len(chunk)]]
    return scores


def perplexity(log_probabilities):
    """exp of the mean negative log-probability per word."""
    return float(np.exp(-np.mean(log_probabilities)))


def choose_next(logits, temperature, top_k, rng):
    """The next word's id: the likeliest at temperature 0, else a sample from the softmax of
    logits / temperature, restricted to the `top_k` likeliest words when `top_k` is given."""
    if temperature == 0:
        return int(np.argmax(logits))
    with np.errstate(over="ignore"):
        scaled = np.asarray(logits, np.float64) / temperature
    if not np.isfinite(scaled).all():  # a temperature so small that the logits overflow: the greedy limit
        return int(np.argmax(logits))
    if top_k and top_k < len(scaled):
        threshold = np.partition(scaled, -top_k)[-top_k]
        scaled = np.where(scaled >= threshold, scaled, -np.inf)
    probabilities = np.exp(scaled - scaled.max())
    return int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))


def generate(model, context, length, temperature=1.0, top_k=None, seed=None):
    """`length` word ids continuing the ids in `context` (at least one)."""
    model = as_stream(model)
    model.reset()
    rng = np.random.default_rng(seed)
    logits = model.predict_on_batch(np.asarray([context], np.int32))[0, -1]
    generated = []
    while True:
        generated.append(choose_next(logits, temperature, top_k, rng))
        if len(generated) == length:
            return generated
        logits = model.predict_on_batch(np.asarray([[generated[-1]]], np.int32))[0, -1]
