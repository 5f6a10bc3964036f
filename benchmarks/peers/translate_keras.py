"""German -> English on Multi30k in plain Keras (keras.io's NMT style): a functional
encoder-decoder trained with teacher forcing by `model.fit` over a `keras.utils.PyDataset`
of padded length batches.

The same model and optimizer as nnkit's default `translate` model: a bidirectional GRU
encoder, a tanh bridge from its final states to the decoder's first state, a GRU decoder,
additive (Bahdanau) attention, a tanh attentional layer, dropout, logits; Adam with global
gradient clipping.
"""

import keras
import numpy as np
from keras import layers, ops

from keras_clock import EpochClock
from runner import Clock, arguments, padded_batches, report


class AdditiveAttention(layers.Layer):
    """v . tanh(W_q q + W_k k) over the source positions; padding gets weight 0."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.query = layers.Dense(units, use_bias=False)
        self.key = layers.Dense(units, use_bias=False)
        self.score = layers.Dense(1, use_bias=False)

    def call(self, queries, keys, key_mask):
        scores = self.score(ops.tanh(ops.expand_dims(self.query(queries), 2) + ops.expand_dims(self.key(keys), 1)))
        scores = ops.where(ops.expand_dims(key_mask, 1), ops.squeeze(scores, -1), -1e9)
        return ops.matmul(ops.softmax(scores, axis=-1), keys)

    def compute_mask(self, *args, **kwargs):
        return None


class Batches(keras.utils.PyDataset):
    """Shuffled batches, padded to the longer of each batch's sources and targets (rounded up
    to 8), as nnkit pads them."""

    def __init__(self, data, batch_size, seed):
        super().__init__()
        self.data, self.batch_size, self.rng = data, batch_size, np.random.default_rng(seed)
        self.lengths = np.maximum((data["x_source"] != 0).sum(axis=1), (data["y_words"] != 0).sum(axis=1))
        self.on_epoch_end()

    def on_epoch_end(self):
        self.batches = padded_batches(self.lengths, self.batch_size, self.rng)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        rows, width = self.batches[index]

        def cut(name):
            array = self.data[name][rows, :width]
            return np.pad(array, [(0, 0), (0, width - array.shape[1])])

        return {"source": cut("x_source"), "previous_words": cut("x_previous_words")}, {"words": cut("y_words")}


def build(config, sizes):
    units, dim, dropout = config["units"], config["embedding_dim"], config["dropout"]
    source = keras.Input((None,), dtype="int32", name="source")
    previous_words = keras.Input((None,), dtype="int32", name="previous_words")
    encoded, forward, backward = layers.Bidirectional(layers.GRU(units // 2, return_sequences=True, return_state=True))(
        layers.Embedding(sizes["source_words"], dim, mask_zero=True)(source))
    state = layers.Dense(units, activation="tanh")(layers.Concatenate()([forward, backward]))
    x = layers.Embedding(sizes["target_words"], dim, mask_zero=True)(previous_words)
    x = layers.GRU(units, return_sequences=True)(x, initial_state=[state])
    x = layers.Dropout(dropout)(x)
    context = AdditiveAttention(units)(x, encoded, ops.not_equal(source, 0))
    x = layers.Dense(units, activation="tanh")(layers.Concatenate()([x, context]))
    logits = layers.Dense(sizes["target_words"], name="words")(layers.Dropout(dropout)(x))
    return keras.Model({"source": source, "previous_words": previous_words}, {"words": logits})


def main():
    args, data, meta = arguments(__doc__)
    keras.utils.set_random_seed(args.seed)
    training = meta["config"]["training"]
    model = build(meta["config"]["model"], meta["sizes"])
    model.compile(optimizer=keras.optimizers.Adam(training["learning_rate"],
                                                  global_clipnorm=training["global_clipnorm"]),
                  loss={"words": keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)})
    batches = Batches(data, training["batch_size"], args.seed)
    clock = Clock()
    model.fit(batches, epochs=args.epochs, callbacks=[EpochClock(clock)], verbose=0)
    report(clock, len(batches))


if __name__ == "__main__":
    main()
