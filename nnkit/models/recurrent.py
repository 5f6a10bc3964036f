"""The recurrent curriculum as building blocks: Elman, Jordan, GRU and LSTM layers, wrapped
bidirectionally and stacked into deep RNNs. Shared by every sequence task."""

import keras

from nnkit.layers import Elman, Jordan
from nnkit.models import CELL_TYPES


def recurrent_layer(cell_type, units, return_sequences=True, return_state=False, name=None):
    """One recurrent layer of `cell_type`. GRU and LSTM are Keras's own (fused kernels on GPU).
    To carry the state from batch to batch, wrap it in nnkit.layers.Stateful."""
    layers = {"elman": Elman, "jordan": Jordan, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
    if cell_type not in layers:
        raise ValueError(f"model.architecture must be one of {', '.join(CELL_TYPES)}, got '{cell_type}'")
    return layers[cell_type](units, return_sequences=return_sequences, return_state=return_state, name=name)


def stacked_rnn(inputs, cell_type, units, layers=1, bidirectional=False, dropout=0.0, name="rnn"):
    """`layers` recurrent layers on top of each other, each returning its whole sequence.

    Dropout sits between layers (not inside the recurrence), which keeps GRU and LSTM on
    their fast kernels. A bidirectional layer runs a second copy backwards in time and
    concatenates the two: each word then sees its right context too.
    """
    if layers < 1:
        raise ValueError(f"model.layers must be at least 1, got {layers}")
    x = inputs
    for depth in range(layers):
        layer = recurrent_layer(cell_type, units, name=f"{name}_{cell_type}_{depth + 1}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"{name}_bidirectional_{depth + 1}")
        x = layer(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout_{depth + 1}")(x)
    return x
