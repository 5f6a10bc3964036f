"""Pictures of what a CNN's first convolutions learned and how they respond to one image."""

import numpy as np

from nnkit.errors import NnkitError
from nnkit.training.reports import _pyplot, _save

MAX_FILTERS = 16


def first_convolutions(model, count=2):
    import keras

    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][:count]
    if not convolutions:
        raise NnkitError(f"model '{model.name}' has no convolution layers to explain")
    return convolutions


def plot_first_convolutions(model, batch, path, title=""):
    """Row 1: the input and the first layer's kernels; then each layer's feature maps."""
    import keras

    convolutions = first_convolutions(model)
    # The one input, not a list of it: a loaded model's `inputs` is a list, and calling a model
    # built on a list with an array draws Keras's warning that the structures differ.
    probe = keras.Model(model.inputs[0], [layer.output for layer in convolutions])
    maps = probe(np.asarray(batch, dtype="float32"), training=False)
    maps = [keras.ops.convert_to_numpy(m)[0] for m in (maps if isinstance(maps, (list, tuple)) else [maps])]
    kernels = keras.ops.convert_to_numpy(convolutions[0].kernel)[:, :, 0, :MAX_FILTERS]
    columns = 1 + min(MAX_FILTERS, max(kernels.shape[-1], *(m.shape[-1] for m in maps)))

    plt = _pyplot()
    rows = 1 + len(maps)
    figure, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.25 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    axes[0, 0].imshow(batch[0, :, :, 0], cmap="gray")
    axes[0, 0].set_title("input", fontsize=7)
    limit = np.abs(kernels).max() or 1.0
    for index in range(kernels.shape[-1]):
        axes[0, index + 1].imshow(kernels[:, :, index], cmap="bwr", vmin=-limit, vmax=limit)
        axes[0, index + 1].set_title(f"kernel {index + 1}", fontsize=6)
    for row, (layer, feature_maps) in enumerate(zip(convolutions, maps), start=1):
        axes[row, 0].text(0.5, 0.5, f"{layer.name}\nfeature maps", ha="center", va="center", fontsize=6)
        for index in range(min(MAX_FILTERS, feature_maps.shape[-1])):
            axes[row, index + 1].imshow(feature_maps[:, :, index], cmap="viridis")
    figure.suptitle(title, fontsize=9)
    _save(figure, path)
