import keras
import numpy as np

from nnkit.layers import ContrastNormalization


def cell(ink=30.0, paper=220.0):
    image = np.full((1, 12, 12, 1), paper, np.float32)
    image[0, 3:9, 5:7, 0] = ink  # a dark stroke on light paper
    return image


def test_lighting_and_polarity_do_not_matter():
    layer = ContrastNormalization()
    reference = keras.ops.convert_to_numpy(layer(cell()))
    chalk_on_board = keras.ops.convert_to_numpy(layer(255.0 - cell()))
    dim_photo = keras.ops.convert_to_numpy(layer(cell(ink=60.0, paper=140.0)))
    np.testing.assert_allclose(chalk_on_board, reference, atol=1e-5)
    np.testing.assert_allclose(dim_photo, reference, atol=1e-5)
    assert reference[0, 5, 5, 0] > 0 and abs(reference[0, 0, 0, 0]) < 1e-6  # ink positive, paper 0


def test_blank_noise_is_not_amplified():
    noise = 128 + np.random.default_rng(0).normal(0, 5, (1, 12, 12, 1)).astype(np.float32)
    out = keras.ops.convert_to_numpy(ContrastNormalization(minimum_contrast=16.0)(noise))
    assert np.abs(out).max() < 1.5  # ink after normalisation is several units


def test_config_round_trip():
    layer = ContrastNormalization(minimum_contrast=8.0, name="c")
    clone = ContrastNormalization.from_config(layer.get_config())
    assert clone.minimum_contrast == 8.0 and clone.name == "c"
    assert keras.saving.get_registered_name(ContrastNormalization) == "nnkit>ContrastNormalization"
