"""A word-level recurrent language model: embedding -> stacked RNN -> a score for every word.

The recurrent layers are stateful (nnkit.layers.Stateful): each batch starts from the state the
previous batch ended in, so a corpus read as one long stream in consecutive windows (truncated
backpropagation through time) keeps its context across window boundaries, and generation feeds
one word per step instead of re-reading the prefix. Statefulness fixes the batch size, so the
model is built once for training (batch_size, bptt) and again, with the same weights, for
inference (1, None).
"""

import keras
from keras import ops

from nnkit.layers import ReversibleEmbedding, Stateful
from nnkit.models.recurrent import recurrent_layer


def build_language_model(model_config, vocabulary_size, batch_size, sequence_length=None, name="lm", stateful=True,
                         state_io=False):
    """Logits over the vocabulary for every position of (batch_size, sequence_length) word ids.
    With `stateful=False` every call starts from a zero state, and any batch size will do.
    With `state_io` (and not stateful) the states are the model's own inputs and outputs
    instead: {tokens, state_0 ...} -> {logits, next_state_0 ...}, the states after the last
    word (the step model that other runtimes carry the state through: nnkit.runtime.onnx).

    Dropout is "locked" (one mask per sequence for all its steps, as SpatialDropout1D draws it)
    and sits on the embeddings, between layers and before the output, never inside the
    recurrence, which keeps LSTM and GRU on their fast kernels (Zaremba et al. 2014; Gal and
    Ghahramani 2016). With `tie_weights` the output layer reuses the embedding matrix; a last
    projection maps the recurrent units to the embedding size when the two differ.
    """
    architecture, dropout = model_config["architecture"], model_config["dropout"]  # the config rules checked them
    tokens = keras.Input(batch_shape=(batch_size, sequence_length), dtype="int32", name="tokens")
    embedding_class = ReversibleEmbedding if model_config["tie_weights"] else keras.layers.Embedding
    embedding = embedding_class(vocabulary_size, model_config["embedding_dim"],
                                embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1), name="embedding")
    x = embedding(tokens)
    state_inputs, next_states = [], []
    for depth in range(model_config["layers"]):
        x = keras.layers.SpatialDropout1D(dropout, name=f"dropout_{depth + 1}")(x) if dropout else x
        layer_name = f"{architecture}_{depth + 1}"
        layer = recurrent_layer(architecture, model_config["units"], return_state=stateful or state_io,
                                name=layer_name)
        if state_io:
            initial = [keras.Input(batch_shape=(batch_size, size), name=f"state_{len(state_inputs) + index}")
                       for index, size in enumerate(layer.cell.state_size if isinstance(layer.cell.state_size, (list, tuple))
                                                    else [layer.cell.state_size])]
            x, *states = layer(x, initial_state=initial)
            state_inputs, next_states = state_inputs + initial, next_states + states
        else:
            x = (Stateful(layer, name=layer_name) if stateful else layer)(x)
    x = keras.layers.SpatialDropout1D(dropout, name="dropout_output")(x) if dropout else x
    if model_config["tie_weights"]:
        if model_config["units"] != model_config["embedding_dim"]:
            x = keras.layers.Dense(model_config["embedding_dim"], name="projection")(x)
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocabulary_size, name="logits")(x)
    if state_io:
        return keras.Model({"tokens": tokens, **{f"state_{index}": state for index, state in enumerate(state_inputs)}},
                           {"logits": logits, **{f"next_state_{index}": state for index, state in enumerate(next_states)}},
                           name=name)
    return keras.Model(tokens, logits, name=name)


def learned_weights(layer):
    """`layer`'s weights without a recurrent state it carries, whose shape depends on the batch
    size. (Models saved before nnkit.layers.Stateful had Keras's stateful layers, whose states are
    not weights at all.)"""
    return layer.layer.weights if isinstance(layer, Stateful) else layer.weights


def copy_weights(source, target):
    """Copy the learned weights of `source` into `target`, a copy built for another batch size;
    the recurrent states stay. Values go through NumPy: on JAX, sharing one buffer would let the
    target's compiled calls donate (delete) the source's."""
    for layer in target.layers:
        if not learned_weights(layer):  # inputs (a step model's states among them), dropout
            continue
        for mine, theirs in zip(learned_weights(layer), learned_weights(source.get_layer(layer.name))):
            mine.assign(theirs.numpy())


@keras.saving.register_keras_serializable(package="nnkit")
class Perplexity(keras.metrics.Mean):
    """exp of the mean cross-entropy per word, over all the words seen (not per batch)."""

    def __init__(self, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        losses = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        super().update_state(losses, sample_weight)

    def result(self):
        return ops.exp(super().result())
