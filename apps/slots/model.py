"""A recurrent slot filler with intent detection: word vectors -> (bidirectional, stacked)
RNN -> a BIO tag for every word, and a pooled sentence vector -> the intent.

Jointly, both heads share the encoder (each task regularises the other, Liu and Lane 2016);
otherwise the intent gets an encoder of its own, as two separate models would.
"""

import keras

from nnkit.layers import HashedWordEmbedding, MaskedPooling, OneHot
from nnkit.models.recurrent import stacked_rnn


def word_vectors(inputs, model, info):
    """The word representation(s) named by model.encoding (one of nnkit.apps.slots.task.ENCODINGS,
    as the config rules check), concatenated; masks carry through."""
    parts = model["encoding"].split("+")
    vectors = []
    if "onehot" in parts:
        vectors.append(OneHot(len(info["words"]), name="one_hot")(inputs["words"]))
    if "embedding" in parts:
        vectors.append(keras.layers.Embedding(len(info["words"]), model["embedding_dim"], mask_zero=True,
                                              name="word_embedding")(inputs["words"]))
    if "wordhash" in parts:
        vectors.append(HashedWordEmbedding(info["hash_buckets"], model["embedding_dim"],
                                           name="word_hashing")(inputs["trigrams"]))
    return vectors[0] if len(vectors) == 1 else keras.layers.Concatenate(name="word_vectors")(vectors)


def model_inputs(model, info):
    """The model's named inputs: word ids and/or hashed trigram ids, 0 for padding."""
    parts = model["encoding"].split("+")
    inputs = {}
    if "onehot" in parts or "embedding" in parts:
        inputs["words"] = keras.Input(shape=(None,), dtype="int32", name="words")
    if "wordhash" in parts:
        inputs["trigrams"] = keras.Input(shape=(None, info["max_trigrams"]), dtype="int32", name="trigrams")
    return inputs


def sentence_vector(sequence, dropout, name):
    """Mean and max of the encoder's outputs over the real words: the intent's evidence can
    be anywhere in the sentence, not only where the last state happens to remember it."""
    pooled = keras.layers.Concatenate(name=f"{name}_pooling")(
        [MaskedPooling("mean", name=f"{name}_mean")(sequence), MaskedPooling("max", name=f"{name}_max")(sequence)]
    )
    return keras.layers.Dropout(dropout, name=f"{name}_dropout")(pooled) if dropout else pooled


def self_attention(sequence, model, name):
    """Each word's encoding, concatenated with what it attends to elsewhere in the sentence
    (Liu and Lane 2016): "in denver" reads differently after "ground transportation" than
    after "flights". Padding is masked out of the attention."""
    attended = keras.layers.MultiHeadAttention(
        num_heads=model["attention_heads"], key_dim=max(1, model["units"] // model["attention_heads"]),
        dropout=model["dropout"], name=f"{name}_attention")(sequence, sequence)
    return keras.layers.Concatenate(name=f"{name}_with_context")([sequence, attended])


def intent_head(sequence, model, intents):
    """The intent from the whole sentence: pooled ("pool"), or each word votes with a
    distribution over intents and the votes are averaged ("vote", Qin et al. 2019)."""
    if model["intent_decision"] == "vote":
        votes = keras.layers.Dense(intents, activation="softmax", name="intent_votes")(sequence)
        return MaskedPooling("mean", name="intent")(votes)
    return keras.layers.Dense(intents, activation="softmax", name="intent")(
        sentence_vector(sequence, model["dropout"], name="sentence"))


def build_slot_filler(model, info, name="slots"):
    """Outputs {"slots": (batch, words, tags), "intent": (batch, intents)}, both softmax."""
    inputs = model_inputs(model, info)
    x = word_vectors(inputs, model, info)
    if model["dropout"]:
        x = keras.layers.Dropout(model["dropout"], name="word_dropout")(x)
    rnn = {"cell_type": model["architecture"], "units": model["units"], "layers": model["layers"],
           "bidirectional": model["bidirectional"], "dropout": model["dropout"]}

    def encoder(name):
        encoded = stacked_rnn(x, **rnn, name=name)
        return self_attention(encoded, model, name) if model["attention_heads"] else encoded

    encoded = encoder("encoder")
    slots = keras.layers.Dense(len(info["tags"]), activation="softmax", name="slots")(encoded)
    intent_sequence = encoded if model["joint_intent"] else encoder("intent_encoder")
    intent = intent_head(intent_sequence, model, len(info["intents"]))
    return keras.Model(inputs, {"slots": slots, "intent": intent}, name=name)
