"""A saved model's ONNX artifacts run with ONNX Runtime, in the shapes the predictors call a
Keras model in: `OnnxModel` for one graph (predict_on_batch, predict), `OnnxStepDecoder` for
an encoder and a one-step decoder (nnkit.models.decoding's encode/step), `RecurrentStream` for
a state-in/state-out step model run as a stateful one. Nothing here imports Keras or TensorFlow.
"""

import json

import numpy as np

from nnkit.errors import NnkitError
from nnkit.runtime import MANIFEST

# ONNX Runtime's names of tensor types -> NumPy's.
DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int32)": np.int32,
          "tensor(int64)": np.int64, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


class OnnxModel:
    """One ONNX graph with named inputs and outputs. `predict_on_batch` answers as a Keras model
    does: the array of a one-output graph, else {output name: array}; one array will do as
    the inputs of a one-input graph, and inputs are cast to the dtypes the graph takes."""

    def __init__(self, path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings are about graph rewrites, not the user's input
        # One thread per graph, which waits without spinning: nnkit's graphs are small, and a
        # server holds several of them, whose spinning thread pools would fight over the cores
        # (with the default pools, digits answered 6x slower under load than through Keras).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own kinds for a missing or damaged file
            raise NnkitError(f"ONNX Runtime cannot load '{path}': {str(error).strip().splitlines()[0]}")
        self.input_types = {tensor.name: DTYPES[tensor.type] for tensor in self.session.get_inputs()}
        self.input_shapes = {tensor.name: tensor.shape for tensor in self.session.get_inputs()}
        self.output_names = [tensor.name for tensor in self.session.get_outputs()]

    def run(self, inputs):
        """{output name: array} for {input name: array}."""
        feed = {name: np.asarray(inputs[name], dtype) for name, dtype in self.input_types.items()}
        return dict(zip(self.output_names, self.session.run(self.output_names, feed)))

    def predict_on_batch(self, inputs):
        if not isinstance(inputs, dict):
            (name,) = self.input_types
            inputs = {name: inputs}
        outputs = self.run(inputs)
        return outputs[self.output_names[0]] if len(self.output_names) == 1 else outputs

    def predict(self, inputs, batch_size=256, verbose=0):
        """`predict_on_batch` over `batch_size` rows at a time, joined: bounded memory for a large set."""
        arrays = inputs if isinstance(inputs, dict) else {None: inputs}
        rows = len(next(iter(arrays.values())))
        parts = [self.predict_on_batch({name: array[start: start + batch_size] for name, array in arrays.items()}
                                       if isinstance(inputs, dict) else inputs[start: start + batch_size])
                 for start in range(0, rows, batch_size)]
        if isinstance(parts[0], dict):
            return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
        return np.concatenate(parts)


class Artifacts:
    """The ONNX artifacts in a saved model's onnx/ directory: `artifacts[name]` is an OnnxModel
    (loaded on first use); `manifest` is its export.json."""

    def __init__(self, directory):
        self.directory = directory
        self.manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        self.files = {artifact["name"]: directory / artifact["file"] for artifact in self.manifest["artifacts"]}
        self.loaded = {}

    def __getitem__(self, name):
        if name not in self.loaded:
            if name not in self.files:
                raise NnkitError(f"'{self.directory}' has no ONNX artifact '{name}' "
                                 f"(it has {', '.join(sorted(self.files))})")
            self.loaded[name] = OnnxModel(self.files[name])
        return self.loaded[name]


def numbered(names, prefix):
    """The names `prefix`0, `prefix`1 ... among `names`, in the order of their numbers."""
    found = [name for name in names if name.startswith(prefix) and name[len(prefix):].isdigit()]
    return sorted(found, key=lambda name: int(name[len(prefix):]))


class OnnxStepDecoder:
    """An encoder and a one-step decoder artifact (nnkit.export.graphs.decoder_step_artifact)
    as nnkit.models.decoding wants a decoder: `encode(inputs)` -> (memory, mask, states),
    `step(words, memory, mask, states)` -> (logits, states, attention or None).
    `never_written` are ids whose logits are set to -1e9, as the task's Keras decoder does."""

    def __init__(self, encoder, step, never_written=()):
        self.encoder, self.decoder_step, self.never_written = encoder, step, list(never_written)
        self.state_names = numbered(step.input_types, "state_")
        self.next_state_names = numbered(step.output_names, "next_state_")
        self.attention = "attention" in step.output_names

    def encode(self, inputs):
        (name,) = self.encoder.input_types
        outputs = self.encoder.run({name: inputs})
        memory = outputs["memory"]
        # An image's grid has no padding: its encoder gives no mask.
        mask = outputs["memory_mask"] if "memory_mask" in outputs else np.ones(memory.shape[:2], bool)
        return memory, mask, [outputs[name] for name in self.state_names]

    def step(self, words, memory, mask, states):
        outputs = self.decoder_step.run({"word": np.asarray(words).reshape(-1, 1), "memory": memory,
                                         "memory_mask": mask, **dict(zip(self.state_names, states))})
        logits = outputs["logits"][:, 0]
        logits[:, self.never_written] = -1e9
        states = [outputs[name] for name in self.next_state_names]
        return logits, states, outputs["attention"][:, 0] if self.attention else None


class RecurrentStream:
    """A state-in/state-out step model (tokens and state_0.. in; logits and next_state_0.. out)
    run as a stateful model over one stream: each call starts where the last one ended, and
    `reset()` starts a new stream from zero states."""

    def __init__(self, model, tokens="tokens"):
        self.model, self.tokens = model, tokens
        self.state_names = numbered(model.input_types, "state_")
        self.reset()

    def reset(self):
        self.states = [np.zeros((1, self.model.input_shapes[name][1]), np.float32) for name in self.state_names]

    def predict_on_batch(self, tokens):
        outputs = self.model.run({self.tokens: tokens, **dict(zip(self.state_names, self.states))})
        self.states = [outputs[f"next_{name}"] for name in self.state_names]
        return outputs["logits"]
