import keras
import numpy as np
import pytest

from nnkit.config import load_config
from nnkit.errors import UsageError
from nnkit.models.vision import ARCHITECTURES, build_image_classifier

from task_harness import check_save_reload_predict


def build(architecture, **options):
    config = load_config("digits", overrides=[f"model.architecture={architecture}", "model.width=8"])
    config["model"].update(options)
    return build_image_classifier((28, 28, 1), 10, config["model"], config["augmentation"], config["seed"])


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("architecture, normalization",
                         [(name, "rescale") for name in sorted(ARCHITECTURES)] + [("cnn", "contrast")])
def test_every_architecture_trains_saves_and_reloads(architecture, normalization, tmp_path):
    model = build(architecture, input_normalization=normalization)
    pixels = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 1)).astype("float32")
    labels = np.arange(16) % 10
    probabilities = check_save_reload_predict(model, pixels, labels, "sparse_categorical_crossentropy",
                                              tmp_path).predict(pixels, verbose=0)
    assert probabilities.shape == (16, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_cli_choices_name_every_architecture():
    from nnkit.families.image_classification import ImageClassificationTask

    assert ImageClassificationTask.architectures == tuple(ARCHITECTURES)


def test_lenet5_follows_the_paper():
    model = build("lenet5", batch_norm=False, activation="tanh", pooling="average")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size) for c in convs] == [(6, (5, 5)), (16, (5, 5))]
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [120, 84, 10]
    assert "AveragePooling2D" in layer_types(model) and "MaxPooling2D" not in layer_types(model)
    assert model.count_params() == 61706  # the classic 28x28 LeNet-5 (C1 'same') parameter count


def test_resnet_has_residual_connections_and_projections():
    model = build("resnet")
    assert layer_types(model).count("Add") == 6
    projections = [l for l in model.layers if isinstance(l, keras.layers.Conv2D) and l.kernel_size == (1, 1)]
    assert len(projections) == 2  # where the width doubles and the image halves


def test_options_reach_the_layers():
    model = build("cnn", padding="valid", kernel_initializer="glorot_uniform", batch_norm=False, stride=1)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert {c.padding for c in convs} == {"valid"} and convs[-1].output.shape[1:3] == (8, 8)
    assert all(isinstance(c.kernel_initializer, keras.initializers.GlorotUniform) for c in convs)
    assert "BatchNormalization" not in layer_types(model)
    assert build("cnn", stride=2).output_shape == (None, 10)


def test_augmentation_is_active_only_in_training():
    model = build("cnn")
    assert {"RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling"} <= set(layer_types(model))
    pixels = np.random.default_rng(1).integers(0, 256, (4, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(model(pixels, training=False), model(pixels, training=False))
    augment = keras.Sequential(model.layers[1:5])
    assert not np.allclose(augment(pixels, training=True), augment(pixels, training=False))


def test_bad_options_fail_clearly():
    # The config rules refuse bad names before a model is built (tests/test_config_sweep.py has them all) ...
    for override, key in (("model.architecture=densenet", "model.architecture"),
                          ("model.kernel_initializer=golden", "model.kernel_initializer"),
                          ("model.pooling=median", "model.pooling"),
                          ("model.input_normalization=zscore", "model.input_normalization")):
        with pytest.raises(UsageError, match=f"config key '{key}'"):
            load_config("digits", overrides=[override])
    # ... and what only building finds out is refused when building.
    with pytest.raises(UsageError, match="cannot be built"):
        build("alexnet", padding="valid", stride=3)
