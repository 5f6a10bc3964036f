"""A recurrent layer that carries its state from one call to the next, on every backend.

Keras's own `stateful=True` keeps the state in variables that no model tracks. TensorFlow and
PyTorch update them in place, but JAX's compiled training and prediction steps are pure: they
read untracked variables as constants and drop their updates, so on JAX a stateful layer
restarts from zero at every batch. And on PyTorch, Keras 3.15's stateful GRU and LSTM do not
train at all: their kernels keep the state for the backward pass, and the layer then overwrites
it in place (keras-team/keras issue 23462). `Stateful` keeps the state in non-trainable weights
of its own, which every backend's steps carry from batch to batch, as they carry batch norm's
statistics, around a layer that is not stateful itself.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nnkit")
class Stateful(keras.layers.Wrapper):
    """`Stateful(rnn)`: runs `rnn` (built with return_sequences=True and return_state=True)
    from the state the previous call ended in, and returns its sequence. The batch size must be
    fixed: each batch row continues the same row of the previous batch. `reset_state()` zeroes it.
    """

    stateful = True  # what nnkit.apps.lm.model.reset_states looks for, as on Keras's layers

    def __init__(self, layer, **kwargs):
        if not (getattr(layer, "return_sequences", False) and getattr(layer, "return_state", False)):
            raise ValueError("Stateful wraps a recurrent layer built with return_sequences=True and return_state=True")
        super().__init__(layer, **kwargs)

    def build(self, sequences_shape):
        if sequences_shape[0] is None:
            raise ValueError(f"Stateful needs a fixed batch size, got inputs of shape {sequences_shape}")
        super().build(sequences_shape)
        self.states = [self.add_weight(shape=(sequences_shape[0], size), initializer="zeros", trainable=False,
                                       name=f"state_{index}") for index, size in enumerate(self.layer.state_size)]

    def call(self, sequences, training=False):
        # Copies: PyTorch's kernels keep the initial state for the backward pass, and assign()
        # below overwrites the variables in place, which autograd refuses.
        outputs, *states = self.layer(sequences, initial_state=[ops.copy(state) for state in self.states],
                                      training=training)
        for variable, state in zip(self.states, states):
            variable.assign(ops.cast(state, variable.dtype))
        return outputs

    def reset_state(self):
        for variable in self.states:
            variable.assign(ops.zeros(variable.shape, variable.dtype))

    def compute_output_shape(self, sequences_shape):
        return self.layer.compute_output_shape(sequences_shape)[0]


def reset_states(model):
    """Zero every stateful layer's state: the start of a new stream."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
