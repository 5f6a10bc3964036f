"""Encoder-decoder attention: each decoder step looks back over the encoder's outputs.

A score says how well each source position matches the decoder's state; a softmax over the
real (unmasked) source positions turns the scores into weights that sum to one, and the
context is the weighted sum of the encoder outputs. Two scores from the curriculum:

- additive (Bahdanau et al. 2015): v . tanh(W_q q + W_k k)
- multiplicative, "general" (Luong et al. 2015): q . W k
"""

import keras
from keras import ops


class _Attention(keras.layers.Layer):
    """Shared by both scores: `layer(queries, keys, key_mask=None)` ->
    (context (batch, steps, key features), weights (batch, steps, source positions)).

    queries: decoder states (batch, steps, q); keys: encoder outputs (batch, source, k);
    key_mask: (batch, source) booleans, False on padding, which then gets weight 0.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True  # the queries' padding mask is taken, and not passed on

    def compute_mask(self, queries, keys, key_mask=None, mask=None):
        return None

    def scores(self, queries, keys):
        raise NotImplementedError

    def call(self, queries, keys, key_mask=None):
        scores = self.scores(queries, keys)  # (batch, steps, source)
        if key_mask is not None:
            present = ops.expand_dims(ops.cast(key_mask, "bool"), 1)
            # A large negative rather than -inf: a row with no real position stays finite.
            scores = ops.where(present, scores, ops.cast(-1e9, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, keys), weights

    def compute_output_shape(self, queries_shape, keys_shape, key_mask_shape=None):
        return ((*queries_shape[:2], keys_shape[-1]), (*queries_shape[:2], keys_shape[1]))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="nnkit")
class AdditiveAttention(_Attention):
    """Bahdanau's score v . tanh(W_q q + W_k k), through a hidden layer of `units`."""

    def build(self, queries_shape, keys_shape, key_mask_shape=None):
        self.query_kernel = self.add_weight(name="query_kernel", shape=(queries_shape[-1], self.units),
                                            initializer="glorot_uniform")
        self.key_kernel = self.add_weight(name="key_kernel", shape=(keys_shape[-1], self.units),
                                          initializer="glorot_uniform")
        self.score_vector = self.add_weight(name="score_vector", shape=(self.units,), initializer="glorot_uniform")

    def scores(self, queries, keys):
        query_part = ops.expand_dims(ops.matmul(queries, self.query_kernel), 2)  # (batch, steps, 1, units)
        key_part = ops.expand_dims(ops.matmul(keys, self.key_kernel), 1)  # (batch, 1, source, units)
        return ops.sum(ops.tanh(query_part + key_part) * self.score_vector, axis=-1)


@keras.saving.register_keras_serializable(package="nnkit")
class MultiplicativeAttention(_Attention):
    """Luong's "general" score q . W k; `units` is ignored (W maps keys to the query size)."""

    def __init__(self, units=None, **kwargs):
        super().__init__(units, **kwargs)

    def build(self, queries_shape, keys_shape, key_mask_shape=None):
        self.kernel = self.add_weight(name="kernel", shape=(keys_shape[-1], queries_shape[-1]),
                                      initializer="glorot_uniform")

    def scores(self, queries, keys):
        return ops.matmul(queries, ops.transpose(ops.matmul(keys, self.kernel), (0, 2, 1)))
