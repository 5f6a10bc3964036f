"""An attention encoder-decoder: the encoder RNN reads the source, the decoder RNN writes the
target word by word, attending over the encoder's outputs (Bahdanau et al. 2015; Luong et al.
2015).

Training uses teacher forcing: the decoder reads the true previous words (`<bos>` first) and
predicts each next one, all positions at once. Decoding one word at a time (greedy or beam
search, `nnkit.models.decoding`) goes through `Seq2SeqDecoder`: two models built from the trained
layers, an encoder (source -> encoder outputs and the decoder's first states) and a decoder
step (one word and the states -> next-word logits, new states, attention weights). Id 0 is
padding everywhere.

The decoder half (`decoder_layers`, `decode`, `StepDecoder`) is shared with image captioning,
whose "encoder outputs" are the cells of a CNN's feature grid.
"""

import keras

from nnkit.layers import AdditiveAttention, MultiplicativeAttention, PaddingMask
from nnkit.models.recurrent import recurrent_layer

# The layer of each score nnkit.models.ATTENTIONS names (the config rules have checked the
# cell, the score and the sizes before anything is built).
ATTENTION_LAYERS = {"bahdanau": AdditiveAttention, "luong": MultiplicativeAttention, "none": None}


def _state_count(cell):
    return 2 if cell == "lstm" else 1  # LSTM carries (h, c), GRU h


def _encode(source, config, layers):
    """Source ids -> (encoder outputs, the decoder's initial states: a tanh bridge of the
    encoder's final states, one set per decoder layer)."""
    x = layers["source_embedding"](source)
    final_states = None
    for depth in range(config["layers"]):
        outputs = layers[f"encoder_{depth + 1}"](x)
        x, final_states = outputs[0], outputs[1:]
        if depth + 1 < config["layers"]:
            x = layers[f"encoder_dropout_{depth + 1}"](x)
    summary = keras.layers.Concatenate(name="encoder_summary")(final_states) if len(final_states) > 1 else final_states[0]
    return x, initial_states(summary, config, layers)


def initial_states(summary, config, layers):
    """The decoder's first states: a tanh bridge of `summary`, one set per decoder layer."""
    return [layers[f"bridge_{depth + 1}_{part}"](summary)
            for depth in range(config["layers"]) for part in range(_state_count(config["architecture"]))]


def decode(previous_words, states, encoder_outputs, source_mask, config, layers):
    """Previous target ids and the decoder states -> (logits, new states, attention weights)."""
    x = layers["target_embedding"](previous_words)
    per_layer = _state_count(config["architecture"])
    new_states = []
    for depth in range(config["layers"]):
        initial = states[depth * per_layer: (depth + 1) * per_layer]
        outputs = layers[f"decoder_{depth + 1}"](x, initial_state=initial)
        x, layer_states = outputs[0], outputs[1:]
        new_states += layer_states
        x = layers[f"decoder_dropout_{depth + 1}"](x)
    weights = None
    if config["attention"] != "none":
        context, weights = layers["attention"](x, encoder_outputs, source_mask)
        # Luong's attentional state: the decoder output and its context, mixed.
        x = layers["attentional"](keras.layers.Concatenate(name="with_context")([x, context]))
        x = layers["output_dropout"](x)
    return layers["logits"](x), new_states, weights


def decoder_layers(config, target_vocabulary_size):
    """The decoder's layers by name: embedding, bridge, recurrent layers, attention, logits."""
    cell, units, dropout = config["architecture"], config["units"], config["dropout"]
    layers = {
        "target_embedding": keras.layers.Embedding(target_vocabulary_size, config["embedding_dim"], mask_zero=True,
                                                   name="target_embedding"),
        "logits": keras.layers.Dense(target_vocabulary_size, name="logits"),
    }
    for depth in range(config["layers"]):
        layers[f"decoder_{depth + 1}"] = recurrent_layer(cell, units, return_state=True, name=f"decoder_{depth + 1}")
        layers[f"decoder_dropout_{depth + 1}"] = keras.layers.Dropout(dropout, name=f"decoder_dropout_{depth + 1}")
        for part in range(_state_count(cell)):
            layers[f"bridge_{depth + 1}_{part}"] = keras.layers.Dense(units, activation="tanh",
                                                                      name=f"bridge_{depth + 1}_{part}")
    if config["attention"] != "none":
        layers["attention"] = ATTENTION_LAYERS[config["attention"]](units, name="attention")
        layers["attentional"] = keras.layers.Dense(units, activation="tanh", name="attentional")
        layers["output_dropout"] = keras.layers.Dropout(dropout, name="output_dropout")
    return layers


def _layers(config, source_vocabulary_size, target_vocabulary_size):
    layers = decoder_layers(config, target_vocabulary_size)
    layers["source_embedding"] = keras.layers.Embedding(source_vocabulary_size, config["embedding_dim"],
                                                        mask_zero=True, name="source_embedding")
    encoder_units = config["units"] // 2 if config["bidirectional_encoder"] else config["units"]
    for depth in range(config["layers"]):
        name = f"encoder_{depth + 1}"
        layer = recurrent_layer(config["architecture"], encoder_units, return_state=True, name=name)
        layers[name] = keras.layers.Bidirectional(layer, name=name) if config["bidirectional_encoder"] else layer
        layers[f"encoder_dropout_{depth + 1}"] = keras.layers.Dropout(config["dropout"],
                                                                      name=f"encoder_dropout_{depth + 1}")
    return layers


def build_translator(config, source_vocabulary_size, target_vocabulary_size, name="translate"):
    """The teacher-forced training model: {source, previous_words} -> {words: logits} for every
    target position (the previous words are the target shifted right, `<bos>` first)."""
    layers = _layers(config, source_vocabulary_size, target_vocabulary_size)
    source = keras.Input(shape=(None,), dtype="int32", name="source")
    previous_words = keras.Input(shape=(None,), dtype="int32", name="previous_words")
    encoder_outputs, states = _encode(source, config, layers)
    source_mask = PaddingMask(name="source_mask")(source)
    logits, _, _ = decode(previous_words, states, encoder_outputs, source_mask, config, layers)
    return keras.Model({"source": source, "previous_words": previous_words}, {"words": logits}, name=name)


class StepDecoder:
    """A trained encoder-decoder rewired for writing one word at a time (`nnkit.models.decoding`).

    `encode(inputs)` -> (memory, memory mask, decoder states);
    `step(words, memory, mask, states)` -> (logits (n, vocabulary), new states,
    attention weights (n, memory length) or None). Every array has the batch first.
    A subclass builds `self.encoder` (inputs -> [memory, mask, *states]) and calls `build_step`.
    """

    def build_step(self, config, layers, memory_features, state_count):
        """The one-step decoder model: (word, memory, mask, *states) -> (logits, *states[, weights])."""
        self.attention, self.state_count = config["attention"] != "none", state_count
        word = keras.Input(shape=(1,), dtype="int32", name="word")
        memory = keras.Input(shape=(None, memory_features), name="memory")
        mask = keras.Input(shape=(None,), dtype="bool", name="memory_mask")
        state_inputs = [keras.Input(shape=(config["units"],), name=f"state_{i}") for i in range(state_count)]
        logits, new_states, weights = decode(word, state_inputs, memory, mask, config, layers)
        outputs = [logits, *new_states, *([weights] if self.attention else [])]
        self.decoder_step = keras.Model([word, memory, mask, *state_inputs], outputs, name="decoder_step")

    def encode(self, inputs):
        memory, mask, *states = self.encoder.predict_on_batch(inputs)
        return memory, mask, states

    def step(self, words, memory, mask, states):
        outputs = self.decoder_step.predict_on_batch([words.reshape(-1, 1), memory, mask, *states])
        logits, states = outputs[0][:, 0], outputs[1: 1 + self.state_count]
        return logits, states, outputs[-1][:, 0] if self.attention else None


class Seq2SeqDecoder(StepDecoder):
    """The trained translation `model`'s layers rewired for decoding one word at a time."""

    def __init__(self, model, config):
        layers = {layer.name: layer for layer in model.layers}
        layers.setdefault("source_mask", PaddingMask(name="source_mask"))  # unused without attention
        source = keras.Input(shape=(None,), dtype="int32", name="source")
        encoder_outputs, states = _encode(source, config, layers)
        self.encoder = keras.Model(source, [encoder_outputs, layers["source_mask"](source), *states], name="encoder")
        self.build_step(config, layers, encoder_outputs.shape[-1], len(states))
