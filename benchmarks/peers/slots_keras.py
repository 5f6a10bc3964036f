"""Joint slot filling and intent detection on ATIS in plain Keras (keras.io style): a
functional model and `model.fit` over a `keras.utils.PyDataset` of padded length batches.

The same model and optimizer as nnkit's default `slots` model: word embedding beside word
hashing (letter-trigram ids, summed), dropout, a two-layer bidirectional LSTM, self-attention
over its outputs, a softmax tag per word, and the intent as the mean of every word's vote.
"""

import keras
import numpy as np
from keras import layers, ops

from keras_clock import EpochClock
from runner import Clock, arguments, padded_batches, report


class TrigramEmbedding(layers.Layer):
    """A word's vector: the sum of its letter trigrams' vectors (ids 0 are padding)."""

    def __init__(self, buckets, dim, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(buckets, dim)

    def call(self, ids):
        present = ops.expand_dims(ops.cast(ids != 0, "float32"), -1)
        return ops.sum(self.embedding(ids) * present, axis=2)

    def compute_mask(self, ids, mask=None):
        return ops.any(ids != 0, axis=-1)


class Batches(keras.utils.PyDataset):
    """Shuffled batches, each padded to its longest sentence (rounded up to 8 words)."""

    def __init__(self, data, batch_size, seed):
        super().__init__()
        self.data, self.batch_size, self.rng = data, batch_size, np.random.default_rng(seed)
        self.lengths = (data["x_words"] != 0).sum(axis=1)
        self.on_epoch_end()

    def on_epoch_end(self):
        self.batches = padded_batches(self.lengths, self.batch_size, self.rng)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        rows, width = self.batches[index]
        d = self.data
        return ({"words": d["x_words"][rows, :width], "trigrams": d["x_trigrams"][rows, :width]},
                {"slots": d["y_slots"][rows, :width], "intent": d["y_intent"][rows]})


def build(config, sizes):
    dropout, units = config["dropout"], config["units"]
    words = keras.Input((None,), dtype="int32", name="words")
    trigrams = keras.Input((None, sizes["max_trigrams"]), dtype="int32", name="trigrams")
    x = layers.Concatenate()([layers.Embedding(sizes["words"], config["embedding_dim"], mask_zero=True)(words),
                              TrigramEmbedding(sizes["hash_buckets"], config["embedding_dim"])(trigrams)])
    x = layers.Dropout(dropout)(x)
    for _ in range(config["layers"]):
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x)
        x = layers.Dropout(dropout)(x)
    heads = config["attention_heads"]
    attended = layers.MultiHeadAttention(heads, units // heads, dropout=dropout)(x, x)
    x = layers.Concatenate()([x, attended])
    slots = layers.Dense(sizes["tags"], activation="softmax", name="slots")(x)
    votes = layers.Dense(sizes["intents"], activation="softmax")(x)
    intent = layers.GlobalAveragePooling1D(name="intent")(votes)  # the mask keeps padding out
    return keras.Model({"words": words, "trigrams": trigrams}, {"slots": slots, "intent": intent})


def main():
    args, data, meta = arguments(__doc__)
    keras.utils.set_random_seed(args.seed)
    training = meta["config"]["training"]
    model = build(meta["config"]["model"], meta["sizes"])
    model.compile(optimizer=keras.optimizers.Adam(training["learning_rate"], clipnorm=training["clipnorm"]),
                  loss={"slots": keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
                        "intent": keras.losses.SparseCategoricalCrossentropy()})
    batches = Batches(data, training["batch_size"], args.seed)
    clock = Clock()
    model.fit(batches, epochs=args.epochs, callbacks=[EpochClock(clock)], verbose=0)
    report(clock, len(batches))


if __name__ == "__main__":
    main()
