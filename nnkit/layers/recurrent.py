"""The two classic simple recurrent networks, Elman's and Jordan's, as Keras RNN cells and layers.

They differ only in what is fed back: Elman (1990) feeds back the hidden state, Jordan (1986)
the previous step's *output*. Keras ships Elman's as `SimpleRNN`; ours exist so that both sit
side by side with the same arguments, and so that Jordan's exists at all. The layers wrap their
cells exactly as `SimpleRNN` wraps `SimpleRNNCell`, so masking, `Bidirectional`, stacking and
`.keras` saving work as they do for Keras's own layers, on every backend.
"""

import keras
from keras import activations, initializers, ops


@keras.saving.register_keras_serializable(package="nnkit")
class ElmanCell(keras.layers.Layer):
    """One step of an Elman network: h_t = activation(x_t·W + h_{t-1}·U + b).

    The hidden state is both the output and the state carried to the next step.
    """

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.state_size = self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer)
        self.bias = (self.add_weight(shape=(self.units,), name="bias", initializer=self.bias_initializer)
                     if self.use_bias else None)

    def call(self, inputs, states):
        hidden = ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel)
        if self.bias is not None:
            hidden = hidden + self.bias
        hidden = self.activation(hidden)
        return hidden, [hidden]

    def arguments(self):
        """The constructor's own arguments, serialized; the RNN layer's config reuses them."""
        return {"units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}

    def get_config(self):
        return {**super().get_config(), **self.arguments()}


@keras.saving.register_keras_serializable(package="nnkit")
class JordanCell(ElmanCell):
    """One step of a Jordan network: the previous *output* is fed back, not the hidden state.

        h_t = activation(x_t·W + y_{t-1}·U + b)
        y_t = output_activation(h_t·V + c)

    Jordan (1986) fed the network's output back so that it knows what it has just said; Mesnil
    et al. (2013) found such networks competitive with Elman's for slot filling on ATIS, where
    knowing the previous word's label helps choose the next. With linear activations and
    constant initializers every step can be computed by hand, which makes a good teaching
    example (see tests/test_recurrent_layers.py).
    """

    def __init__(self, units, output_units=None, activation="tanh", output_activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 output_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.output_units = output_units or units
        self.output_activation = activations.get(output_activation)
        self.output_initializer = initializers.get(output_initializer)
        # What is carried between steps is the output, so the state has the output's size.
        self.state_size = self.output_size = self.output_units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(shape=(self.output_units, self.units), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer)
        self.output_kernel = self.add_weight(shape=(self.units, self.output_units), name="output_kernel",
                                             initializer=self.output_initializer)
        self.bias = self.output_bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias", initializer=self.bias_initializer)
            self.output_bias = self.add_weight(shape=(self.output_units,), name="output_bias",
                                               initializer=self.bias_initializer)

    def call(self, inputs, states):
        hidden, _ = super().call(inputs, states)  # Elman's step, but `states` holds y_{t-1}
        output = ops.matmul(hidden, self.output_kernel)
        if self.output_bias is not None:
            output = output + self.output_bias
        output = self.output_activation(output)
        return output, [output]

    def arguments(self):
        return {**super().arguments(), "output_units": self.output_units,
                "output_activation": activations.serialize(self.output_activation),
                "output_initializer": initializers.serialize(self.output_initializer)}


class _CellRNN(keras.layers.RNN):
    """What Elman and Jordan share: an RNN layer that owns its cell, as `SimpleRNN` does.

    Its config holds the cell's arguments instead of a serialized cell, so that `Bidirectional`
    (which rebuilds the backward copy from the config with `go_backwards` flipped) and
    `load_model` can both recreate it with `cls(**config)`.
    """

    def __init__(self, cell, **kwargs):
        super().__init__(cell, **kwargs)
        self.input_spec = [keras.layers.InputSpec(ndim=3)]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    @property
    def units(self):
        return self.cell.units

    def get_config(self):
        base = super().get_config()
        del base["cell"]
        return {**base, **self.cell.arguments()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="nnkit")
class Elman(_CellRNN):
    """An Elman network over a whole sequence: `keras.layers.RNN(ElmanCell(...))` with the
    cell's arguments as its own."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, **kwargs):
        cell = ElmanCell(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True), name="elman_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)


@keras.saving.register_keras_serializable(package="nnkit")
class Jordan(_CellRNN):
    """A Jordan network over a whole sequence: `keras.layers.RNN(JordanCell(...))` with the
    cell's arguments as its own. Its outputs have `output_units` features."""

    def __init__(self, units, output_units=None, activation="tanh", output_activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 output_initializer="glorot_uniform", bias_initializer="zeros", return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, **kwargs):
        cell = JordanCell(units, output_units=output_units, activation=activation,
                          output_activation=output_activation, use_bias=use_bias,
                          kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                          output_initializer=output_initializer, bias_initializer=bias_initializer,
                          dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True), name="jordan_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    @property
    def output_units(self):
        return self.cell.output_units
