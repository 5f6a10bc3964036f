"""The task's own layer. nnkit imports a task's `layers` module before Keras reads a saved model,
so the registration below is in place when a model is loaded in a fresh process."""

import keras


@keras.saving.register_keras_serializable(package="nnkit_example_sentiment")
class MaskedMaxPooling(keras.layers.Layer):
    """The largest value of each feature over the words of a sentence, padding left out
    (Keras's GlobalMaxPooling1D would count the padding's embedding too)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            lowest = keras.ops.cast(-1e9, inputs.dtype)
            inputs = keras.ops.where(keras.ops.expand_dims(mask, -1), inputs, lowest)
        return keras.ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
