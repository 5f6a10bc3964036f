"""The PTB word language model in plain Keras (keras.io style): embedding, two stateful LSTMs
with locked (SpatialDropout1D) dropout, and an output layer tied to the embedding; `model.fit`
over consecutive BPTT windows, unshuffled, states reset each epoch.

The same model and optimizer as nnkit's `lm` (SGD, global gradient clipping). Keras's own
`stateful=True` keeps the state on TensorFlow; on JAX its compiled step drops the state updates
(each window starts from zero) and on torch it does not train: run this on TensorFlow.
"""

import keras
from keras import layers, ops

from runner import Clock, arguments, report


class TiedOutput(layers.Layer):
    """Scores every word: the vectors times the embedding matrix, plus a bias."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.embedding.input_dim,), initializer="zeros")

    def call(self, x):
        return ops.matmul(x, ops.transpose(self.embedding.embeddings)) + self.bias


class EpochClock(keras.callbacks.Callback):
    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None):
        for layer in self.model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()
        self.clock.start()

    def on_epoch_end(self, epoch, logs=None):
        self.clock.stop(logs["loss"])


def main():
    args, data, meta = arguments(__doc__)
    keras.utils.set_random_seed(args.seed)
    model_config, training = meta["config"]["model"], meta["config"]["training"]
    vocabulary, batch_size = meta["sizes"]["vocabulary"], training["batch_size"]
    tokens = keras.Input(batch_shape=(batch_size, training["bptt"]), dtype="int32")
    embedding = layers.Embedding(vocabulary, model_config["embedding_dim"],
                                 embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1))
    x = embedding(tokens)
    for _ in range(model_config["layers"]):
        x = layers.SpatialDropout1D(model_config["dropout"])(x)
        x = layers.LSTM(model_config["units"], return_sequences=True, stateful=True)(x)
    x = layers.SpatialDropout1D(model_config["dropout"])(x)
    model = keras.Model(tokens, TiedOutput(embedding)(x))
    model.compile(optimizer=keras.optimizers.SGD(training["learning_rate"],
                                                 global_clipnorm=training["global_clipnorm"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clock = Clock()
    model.fit(data["x"], data["y"], batch_size=batch_size, shuffle=False, epochs=args.epochs,
              callbacks=[EpochClock(clock)], verbose=0)
    report(clock, len(data["x"]) // batch_size)


if __name__ == "__main__":
    main()
