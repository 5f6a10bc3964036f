"""Word representations (1-of-N, hashed letter trigrams, a reversible embedding for tied
language-model outputs) and mask-aware pooling over words.

Inputs of the tagging layers are integer ids with 0 for padding (see `nnkit.text.words`); each emits
the padding mask, so the recurrent layers after it skip the padded steps.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nnkit")
class OneHot(keras.layers.Layer):
    """1-of-N word encoding: id -> a vector with a single 1 at that id.

    Id 1 is the "other" (`<unk>`) dimension shared by every word outside the vocabulary;
    padding (id 0) becomes the zero vector and is masked.
    """

    def __init__(self, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size

    def call(self, ids):
        ids = ops.cast(ids, "int32")
        vectors = ops.one_hot(ids, self.vocabulary_size, dtype=self.compute_dtype)
        return vectors * ops.cast(ops.expand_dims(ids != 0, -1), self.compute_dtype)

    def compute_mask(self, ids, mask=None):
        return ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.vocabulary_size)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}


@keras.saving.register_keras_serializable(package="nnkit")
class HashedWordEmbedding(keras.layers.Layer):
    """Word hashing: a word is the bag of its letter trigrams, each hashed into one of
    `buckets` ids; its vector is the sum of the trigrams' vectors.

    Unseen words ("denverr", a new city) still share trigrams with known ones and get a
    useful vector, where a word embedding could only offer `<unk>`. Input (batch, words,
    trigrams) of ids, 0 for padding; output (batch, words, output_dim).
    """

    def __init__(self, buckets, output_dim, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.buckets, self.output_dim = buckets, output_dim
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.buckets, self.output_dim), initializer=self.embeddings_initializer
        )

    def call(self, ids):
        ids = ops.cast(ids, "int32")
        vectors = ops.take(self.embeddings, ids, axis=0)  # (batch, words, trigrams, dim)
        present = ops.cast(ops.expand_dims(ids != 0, -1), vectors.dtype)
        return ops.sum(vectors * present, axis=2)

    def compute_mask(self, ids, mask=None):
        return ops.any(ops.not_equal(ids, 0), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "output_dim": self.output_dim,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer)}


@keras.saving.register_keras_serializable(package="nnkit")
class MaskedPooling(keras.layers.Layer):
    """Mean or max over the time axis of (batch, time, features), ignoring masked steps:
    a sentence's vector must not depend on how much padding its batch needed."""

    def __init__(self, method="max", **kwargs):
        super().__init__(**kwargs)
        if method not in ("mean", "max"):
            raise ValueError(f"MaskedPooling method must be 'mean' or 'max', got '{method}'")
        self.method = method
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1) if self.method == "mean" else ops.max(inputs, axis=1)
        present = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        if self.method == "mean":
            return ops.sum(inputs * present, axis=1) / ops.maximum(ops.sum(present, axis=1), 1.0)
        lowest = ops.min(inputs) - 1.0  # below every real value, so padding never wins the max
        return ops.max(ops.where(present > 0, inputs, lowest), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "method": self.method}


@keras.saving.register_keras_serializable(package="nnkit")
class ReversibleEmbedding(keras.layers.Embedding):
    """A word embedding that can also run backwards, as the output layer of a language model.

    `layer(ids)` looks words up; `layer(vectors, reverse=True)` scores every word against the
    vectors (their dot product with each word's embedding, plus a per-word bias): weight tying
    (Press and Wolf 2017, Inan et al. 2017), which saves a vocabulary-sized matrix and
    lowers perplexity. Input ids have no padding here: every id is a word.
    """

    def build(self, input_shape=None):
        super().build(input_shape)
        self.output_bias = self.add_weight(name="output_bias", shape=(self.input_dim,), initializer="zeros")

    # Keras's Embedding stores only its embedding matrix; store every variable, the bias too.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        return ops.matmul(inputs, ops.transpose(ops.convert_to_tensor(self.embeddings))) + self.output_bias

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, reverse=False):
        shape = self.compute_output_shape(inputs.shape, reverse=reverse)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="nnkit")
class PaddingMask(keras.layers.Layer):
    """True where a sequence of ids has a word, False on padding (id 0): the mask attention
    needs over a source sentence, as an explicit tensor."""

    def call(self, ids):
        return ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return input_shape
