"""Elman and Jordan layers: hand-computed steps, shapes, masking, Bidirectional, saving,
training, and (where JAX is installed) the JAX backend."""

import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from nnkit.layers.recurrent import Elman, ElmanCell, Jordan, JordanCell

constant = keras.initializers.Constant
ONE_TWO_THREE = np.array([[[1.0], [2.0], [3.0]]], np.float32)  # one sequence of 3 steps, 1 feature


def numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def test_elman_by_hand():
    # W = 0.5, U = 1.0, b = 0, linear: h_t = 0.5·x_t + h_{t-1}
    #   h1 = 0.5·1 + 0   = 0.5
    #   h2 = 0.5·2 + 0.5 = 1.5
    #   h3 = 0.5·3 + 1.5 = 3.0
    layer = Elman(1, activation="linear", kernel_initializer=constant(0.5),
                  recurrent_initializer=constant(1.0), return_sequences=True)
    np.testing.assert_allclose(numpy(layer(ONE_TWO_THREE))[0, :, 0], [0.5, 1.5, 3.0], rtol=1e-6)
    assert [w.path.split("/")[-1] for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_jordan_by_hand_feeds_back_the_output():
    # W = 0.5, U = 1.0, V = 2.0, biases 0, linear: h_t = 0.5·x_t + 1.0·y_{t-1}, y_t = 2·h_t
    #   h1 = 0.5·1 + 0   = 0.5   y1 = 1.0
    #   h2 = 0.5·2 + 1.0 = 2.0   y2 = 4.0
    #   h3 = 0.5·3 + 4.0 = 5.5   y3 = 11.0
    jordan = Jordan(1, activation="linear", output_activation="linear", kernel_initializer=constant(0.5),
                    recurrent_initializer=constant(1.0), output_initializer=constant(2.0), return_sequences=True)
    np.testing.assert_allclose(numpy(jordan(ONE_TWO_THREE))[0, :, 0], [1.0, 4.0, 11.0], rtol=1e-6)
    # The same weights as an Elman layer plus an output layer feed back h, not y:
    #   h = 0.5, 1.5, 3.0 (as above), y = 2·h = 1.0, 3.0, 6.0
    elman = Elman(1, activation="linear", kernel_initializer=constant(0.5),
                  recurrent_initializer=constant(1.0), return_sequences=True)
    output = keras.layers.Dense(1, kernel_initializer=constant(2.0))
    np.testing.assert_allclose(numpy(output(elman(ONE_TWO_THREE)))[0, :, 0], [1.0, 3.0, 6.0], rtol=1e-6)
    names = [w.path.split("/")[-1] for w in jordan.weights]
    assert names == ["kernel", "recurrent_kernel", "output_kernel", "bias", "output_bias"]


def test_jordan_cell_weight_shapes():
    cell = JordanCell(4, output_units=2)
    layer = keras.layers.RNN(cell)  # the cells also work in Keras's generic RNN
    assert tuple(layer(np.zeros((3, 5, 7), np.float32)).shape) == (3, 2)
    shapes = {w.path.split("/")[-1]: tuple(w.shape) for w in cell.weights}
    assert shapes == {"kernel": (7, 4), "recurrent_kernel": (2, 4), "bias": (4,),
                      "output_kernel": (4, 2), "output_bias": (2,)}
    assert JordanCell(4).output_units == 4 and cell.state_size == cell.output_size == 2


@pytest.mark.parametrize("make, features", [(lambda **a: Elman(4, **a), 4),
                                            (lambda **a: Jordan(4, output_units=3, **a), 3)])
def test_shapes(make, features):
    x = np.zeros((2, 5, 6), np.float32)
    assert tuple(make()(x).shape) == (2, features)
    assert tuple(make(return_sequences=True)(x).shape) == (2, 5, features)
    sequence, state = make(return_sequences=True, return_state=True)(x)
    assert tuple(sequence.shape) == (2, 5, features) and tuple(state.shape) == (2, features)
    np.testing.assert_allclose(numpy(sequence)[:, -1], numpy(state))  # the state is the last output
    assert make().compute_output_shape((2, 5, 6)) == (2, features)


def masked_model(layer):
    inputs = keras.Input(shape=(None,), dtype="int32")
    return keras.Model(inputs, layer(keras.layers.Embedding(10, 3, mask_zero=True)(inputs)))


@pytest.mark.parametrize("layer_class", [Elman, Jordan])
def test_padding_is_masked(layer_class):
    keras.utils.set_random_seed(1)
    last = masked_model(layer_class(4))
    words = np.array([[3, 1, 4]])
    expected = last.predict(words, verbose=0)
    for padded in ([[3, 1, 4, 0, 0]], [[0, 0, 3, 1, 4]]):  # padded after, and before
        np.testing.assert_allclose(last.predict(np.array(padded), verbose=0), expected, rtol=1e-6)

    every = masked_model(layer_class(4, return_sequences=True))
    every.set_weights(last.get_weights())
    steps = every.predict(words, verbose=0)
    np.testing.assert_allclose(steps[:, -1], expected, rtol=1e-6)
    np.testing.assert_allclose(every.predict(np.array([[3, 1, 4, 0, 0]]), verbose=0)[:, :3], steps, rtol=1e-6)


@pytest.mark.parametrize("layer", [Elman(4, return_sequences=True), Jordan(4, output_units=2, return_sequences=True)])
def test_bidirectional(layer):
    bidirectional = keras.layers.Bidirectional(layer)
    model = masked_model(bidirectional)
    assert type(bidirectional.backward_layer) is type(layer)
    assert bidirectional.backward_layer.go_backwards and not bidirectional.forward_layer.go_backwards
    steps = model.predict(np.array([[3, 1, 4]]), verbose=0)
    assert steps.shape == (1, 3, 2 * layer.cell.output_size)  # forward and backward concatenated
    # The backward copy starts from the end: padding after the words must not reach them.
    padded = model.predict(np.array([[3, 1, 4, 0, 0]]), verbose=0)
    np.testing.assert_allclose(padded[:, :3], steps, rtol=1e-6)


@pytest.mark.parametrize("layer_class", [Elman, ElmanCell, Jordan, JordanCell])
def test_config_has_every_argument(layer_class):
    arguments = [name for name in inspect.signature(layer_class).parameters if name != "kwargs"]
    layer = layer_class(5, activation="relu", bias_initializer="ones")
    config = layer.get_config()
    assert set(arguments) <= set(config)
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    assert keras.saving.get_registered_name(layer_class) == f"nnkit>{layer_class.__name__}"


def test_stacked_model_saves_and_reloads(tmp_path):
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
    x = keras.layers.Bidirectional(Elman(4, return_sequences=True))(x)
    x = Jordan(3, output_units=2, output_activation="linear", return_sequences=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    words = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 0, 0]])
    expected = model.predict(words, verbose=0)

    model.save(tmp_path / "stacked.keras")
    reloaded = keras.saving.load_model(tmp_path / "stacked.keras")
    np.testing.assert_allclose(reloaded.predict(words, verbose=0), expected, rtol=1e-6)
    assert {type(layer).__name__ for layer in reloaded.layers} >= {"Bidirectional", "Jordan"}


def test_jordan_learns():
    # Toy task: is the running sum of the sequence positive, at every step?
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 1)).astype(np.float32)
    y = (np.cumsum(x, axis=1) > 0).astype(np.float32)
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6, 1)), Jordan(8, output_units=1, output_activation="sigmoid",
                                                          return_sequences=True)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    before = [numpy(w).copy() for w in model.weights]
    losses = model.fit(x, y, epochs=20, batch_size=64, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert all(not np.allclose(old, numpy(new)) for old, new in zip(before, model.weights))  # every weight moved


JAX_SCRIPT = textwrap.dedent("""
    import keras, numpy as np
    from nnkit.layers.recurrent import Elman, Jordan
    assert keras.backend.backend() == "jax"
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
    x = keras.layers.Bidirectional(Elman(4, return_sequences=True))(x)
    x = Jordan(3, output_units=2)(x)
    out = keras.Model(inputs, x).predict(np.array([[3, 1, 4, 0], [2, 7, 0, 0]]), verbose=0)
    assert out.shape == (2, 2) and np.isfinite(out).all()
    print("ok")
""")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed; only TensorFlow tested")
def test_jax_backend():
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True,
                          env=environment, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr
