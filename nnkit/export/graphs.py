"""Trained models rewired for `nnkit <task> export`, with Keras layers only: named inputs and a
dict of named outputs (the names other runtimes see), uint8 pixels in, and the encoder and the
one-step decoder of a beam-searched model as artifacts of their own.

The rewired models share the trained layers, so they compute what the saved model computes.
"""

import keras
import numpy as np

from nnkit.task import ExportArtifact


def named(model, output_names=None):
    """`model` with its inputs keyed by their names and its outputs by `output_names`, in order
    (none: the model's outputs are a dict already)."""
    outputs = model.output
    if output_names is not None:
        if len(model.outputs) != len(output_names):
            raise ValueError(f"{model.name} has {len(model.outputs)} outputs, but names {output_names}")
        outputs = dict(zip(output_names, model.outputs))
    elif not isinstance(outputs, dict):
        raise ValueError(f"{model.name}'s outputs have no names: pass output_names")
    return keras.Model({tensor.name: tensor for tensor in model.inputs}, outputs, name=model.name)


def inference_graph(model):
    """`model` with every layer fixed in inference mode. An exporter traces the model called
    without `training`, and then a layer whose own default is training (the random
    augmentation layers) would rotate and shift every image in the exported graph."""
    inputs = {name: keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype, name=name)
              for name, tensor in model.input.items()}
    return keras.Model(inputs, model(inputs, training=False), name=model.name)


def uint8_images(model, input_name, output_names):
    """`model`, whose one input is pixels 0..255 as floats, taking them as uint8 instead: what
    an image decoder produces, and a quarter of the bytes."""
    expected = model.inputs[0]
    image = keras.Input(shape=expected.shape[1:], dtype="uint8", name=input_name)
    outputs = model(keras.ops.cast(image, expected.dtype))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return keras.Model({input_name: image}, dict(zip(output_names, outputs)), name=model.name)


def state_names(count, prefix="state"):
    return [f"{prefix}_{index}" for index in range(count)]


def decoder_step_artifact(decoder, encoded, vocabulary_size, first_word):
    """The one-step decoder of a `nnkit.models.seq2seq.StepDecoder`, checked on the first step
    after `encoded` = decoder.encode(sample inputs): one word and the states in, the next word's
    logits, the new states and (with attention) the attention weights out."""
    memory, mask, states = encoded
    outputs = ["logits", *state_names(decoder.state_count, "next_state"), *(["attention"] if decoder.attention else [])]
    rows = len(memory)
    # <bos> on the first row, other words on the rest: the check covers more of the embedding.
    words = ((first_word + np.arange(rows)) % vocabulary_size).astype(np.int32).reshape(-1, 1)
    samples = {"word": words, "memory": memory, "memory_mask": mask,
               **dict(zip(state_names(decoder.state_count), states))}
    attention = (" and attention weights (n, 1, memory length)" if decoder.attention else "")
    return ExportArtifact("decoder_step", named(decoder.decoder_step, outputs), samples,
                          "One decoding step: the previous word (n, 1), the encoder's memory and mask and the "
                          f"decoder states -> next-word logits (n, 1, vocabulary), the next states{attention}.")


BEAM_SEARCH_NOTE = ("Beam search is a Python loop (nnkit/models/decoding.py) that no single exported graph carries: "
                    "the encoder and the one-step decoder are exported separately. To decode, run the encoder "
                    "once, then feed the decoder step its own next_state_* outputs back as state_* with the "
                    "chosen word, until the end id; greedy decoding takes the arg-max of the logits.")
