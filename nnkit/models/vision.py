"""Image classifiers from the CNN curriculum, as Keras functional models.

Every model takes raw pixels (0..255) and does its own normalisation and, while training, its own
augmentation, so a saved model needs nothing else to predict. Only `keras.layers` are used,
so the same code runs on the TensorFlow, JAX and PyTorch backends.

    preprocessing (rescale, augment) -> backbone (mlp, lenet5, ...) -> softmax head
"""

import keras
from keras import layers

from nnkit.errors import UsageError
from nnkit.layers import ContrastNormalization


def preprocessing(inputs, normalization, augmentation, seed):
    """Scale pixels ("rescale": to 0..1; "contrast": per-image paper to 0 and ink to +1, the
    paper's level being the image's median, see ContrastNormalization) and, in training only,
    apply small random rotations, shifts and zooms."""
    if normalization == "contrast":
        x = ContrastNormalization(background="median", name="contrast")(inputs)
    else:
        x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    # What fills the corners a rotation or shift uncovers: black ("constant") suits MNIST's black
    # background; photos of paper need "nearest" or "reflect", or the model learns black corners.
    fill = augmentation["fill_mode"]
    if augmentation["rotation_degrees"] > 0:
        x = layers.RandomRotation(
            augmentation["rotation_degrees"] / 360.0, fill_mode=fill, seed=seed, name="random_rotation"
        )(x)
    if augmentation["shift"] > 0:
        shift = augmentation["shift"]
        x = layers.RandomTranslation(shift, shift, fill_mode=fill, seed=seed + 1, name="random_shift")(x)
    if augmentation["zoom"] > 0:
        x = layers.RandomZoom(augmentation["zoom"], fill_mode=fill, seed=seed + 2, name="random_zoom")(x)
    return x


def conv_unit(x, filters, kernel_size, options, strides=1, padding=None):
    """Convolution, optional batch norm (which makes the conv bias redundant), activation."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding or options["padding"],
        use_bias=not options["batch_norm"],
        kernel_initializer=options["kernel_initializer"],
    )(x)
    if options["batch_norm"]:
        x = layers.BatchNormalization()(x)
    return layers.Activation(options["activation"])(x)


def pool(x, options, size=2):
    pooling = {"max": layers.MaxPooling2D, "average": layers.AveragePooling2D}[options["pooling"]]
    return pooling(size, padding="same")(x)


def dense_unit(x, units, options, dropout):
    x = layers.Dense(units, use_bias=not options["batch_norm"], kernel_initializer=options["kernel_initializer"])(x)
    if options["batch_norm"]:
        x = layers.BatchNormalization()(x)
    x = layers.Activation(options["activation"])(x)
    return layers.Dropout(dropout)(x) if dropout else x


def mlp(x, options):
    """The multilayer perceptron baseline: two hidden layers on the flattened image."""
    x = layers.Flatten()(x)
    x = dense_unit(x, options["width"] * 16, options, options["dropout"])
    return dense_unit(x, options["width"] * 8, options, options["dropout"])


def lenet5(x, options):
    """LeNet-5 (LeCun et al. 1998): C1 6@5x5, S2, C3 16@5x5, S4, C5 120, F6 84."""
    x = conv_unit(x, 6, 5, options, padding="same")  # 28x28 'same' == the paper's padded 32x32
    x = pool(x, options)
    x = conv_unit(x, 16, 5, options, padding="valid")
    x = pool(x, options)
    x = layers.Flatten()(x)
    x = dense_unit(x, 120, options, 0.0)
    return dense_unit(x, 84, options, options["dropout"])


def alexnet(x, options):
    """AlexNet's shape scaled to small images: two wide convs with pooling, three 3x3 convs."""
    width = options["width"]
    x = conv_unit(x, 2 * width, 5, options, strides=options["stride"])
    x = pool(x, options)
    x = conv_unit(x, 4 * width, 5, options)
    x = pool(x, options)
    for filters in (6 * width, 6 * width, 4 * width):
        x = conv_unit(x, filters, 3, options)
    x = pool(x, options)
    x = layers.Flatten()(x)
    x = dense_unit(x, 4 * options["dense_units"], options, 0.5)
    return dense_unit(x, 4 * options["dense_units"], options, 0.5)


def vgg(x, options):
    """VGG's shape: blocks of stacked 3x3 convolutions, each block halving the image."""
    width = options["width"]
    for filters, repeats in ((width, 2), (2 * width, 2), (4 * width, 3)):
        for index in range(repeats):
            x = conv_unit(x, filters, 3, options, strides=options["stride"] if index == 0 else 1)
        x = pool(x, options)
        x = layers.Dropout(options["dropout"])(x)
    x = layers.Flatten()(x)
    return dense_unit(x, 2 * options["dense_units"], options, 0.5)


def residual_block(x, filters, options, strides=1):
    """A basic residual block (He et al. 2016): two 3x3 convs plus the identity, or a 1x1
    projection when the shape changes."""
    shortcut = x
    y = conv_unit(x, filters, 3, options, strides=strides, padding="same")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=not options["batch_norm"],
                      kernel_initializer=options["kernel_initializer"])(y)
    if options["batch_norm"]:
        y = layers.BatchNormalization()(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False,
                                 kernel_initializer=options["kernel_initializer"])(x)
        if options["batch_norm"]:
            shortcut = layers.BatchNormalization()(shortcut)
    return layers.Activation(options["activation"])(layers.Add()([shortcut, y]))


def resnet(x, options):
    """A small ResNet: a 3x3 stem, three stages of two residual blocks, global pooling."""
    width = options["width"]
    x = conv_unit(x, width, 3, options, padding="same")
    for stage, filters in enumerate((width, 2 * width, 4 * width)):
        x = residual_block(x, filters, options, strides=1 if stage == 0 else 2)
        x = residual_block(x, filters, options)
    x = layers.GlobalAveragePooling2D()(x)
    return layers.Dropout(options["dropout"])(x)


def cnn(x, options):
    """A modern small CNN: two blocks of two conv + batch norm units, pooling and dropout."""
    width = options["width"]
    for filters in (width, 2 * width):
        x = conv_unit(x, filters, 3, options, strides=options["stride"])
        x = conv_unit(x, filters, 3, options)
        x = pool(x, options)
        x = layers.Dropout(options["dropout"])(x)
    x = layers.Flatten()(x)
    return dense_unit(x, options["dense_units"], options, max(0.4, options["dropout"]))


ARCHITECTURES = {"mlp": mlp, "lenet5": lenet5, "alexnet": alexnet, "vgg": vgg, "resnet": resnet, "cnn": cnn}


def build_image_classifier(input_shape, num_classes, model_options, augmentation, seed, name="classifier"):
    """Preprocessing + the chosen backbone + a softmax head, as one functional model. The config
    rules (ImageClassificationTask.config_rules and check_config) have checked the options."""
    architecture = model_options["architecture"]
    inputs = keras.Input(shape=input_shape, name="pixels")
    try:
        scaled = preprocessing(inputs, model_options["input_normalization"], augmentation, seed)
        features = ARCHITECTURES[architecture](scaled, model_options)
    except ValueError as error:  # e.g. 'valid' padding and strides shrinking the image to nothing
        raise UsageError(f"model '{architecture}' cannot be built for {input_shape} inputs with these options: {error}")
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(features)
    return keras.Model(inputs, outputs, name=f"{name}_{architecture}")
