"""Image captioning (Show, Attend and Tell; Xu et al. 2015): a CNN turns the photo into a grid
of feature vectors, and an RNN decoder writes the caption word by word, attending over the
grid's cells.

    image -> image encoder -> grid (cells, channels) -> projection -> memory
    memory -> mean -> tanh bridge -> the decoder's first states
    previous words, memory -> attention decoder (nnkit.models.seq2seq) -> next-word logits

The encoder is frozen while the decoder trains, so its grids are computed once per photo and
cached: the decoder trains on {image_features, previous_words} (`build_caption_trainer`), and
the saved model (`build_captioner`) puts the encoder back in front, to take raw pixels.

Encoders (`model.encoder`):
- small-cnn: VGG-style stages of 3x3 convolution, batch norm and max pooling;
- resnet: stages of residual blocks (He et al. 2016);
- keras-app:NAME: a keras.applications network (ResNet50, EfficientNetB0, ...) with ImageNet
  weights, downloaded once.
small-cnn and resnet start from scratch, so nnkit pretrains them on the training photos
themselves (`build_concept_model`): they learn which words the photo's captions use, the
"visual concepts" of Fang et al. (2015), before the decoder learns to write.
"""

import keras
import numpy as np

from nnkit.errors import UsageError
from nnkit.layers import ImageNetPreprocessing
from nnkit.models.seq2seq import StepDecoder, decode, decoder_layers, initial_states
from nnkit.models.vision import conv_unit, residual_block

ENCODERS = ("small-cnn", "resnet", "keras-app:NAME")
KERAS_APPLICATION = "keras-app:"
CONV_OPTIONS = {"padding": "same", "batch_norm": True, "kernel_initializer": "he_normal", "activation": "relu",
                "pooling": "max"}


def needs_pretraining(encoder_name):
    """Whether nnkit must pretrain this encoder itself (it has no published weights)."""
    return not encoder_name.startswith(KERAS_APPLICATION)


def _small_cnn(x, width):
    """A strided 3x3 stem, then stages of conv + pooling, doubling the filters: 128 px -> 8x8."""
    x = conv_unit(x, width, 3, CONV_OPTIONS, strides=2)
    for filters in (2 * width, 4 * width, 8 * width):
        x = conv_unit(x, filters, 3, CONV_OPTIONS)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    return conv_unit(x, 8 * width, 3, CONV_OPTIONS)


def _resnet(x, width):
    """A strided 3x3 stem, then one residual block per stage, each stage but the first halving
    the grid: 128 px -> 8x8."""
    x = conv_unit(x, width, 3, CONV_OPTIONS, strides=2)
    for stage, filters in enumerate((width, 2 * width, 4 * width, 8 * width)):
        x = residual_block(x, filters, CONV_OPTIONS, strides=1 if stage == 0 else 2)
    return x


def application_preprocessing(name):
    """The input scaling keras.applications.NAME was trained with (see ImageNetPreprocessing)."""
    if name.startswith(("EfficientNet", "ConvNeXt", "MobileNetV3")):
        return "none"
    if name.startswith("DenseNet"):
        return "torch"
    if name.startswith("VGG") or (name.startswith("ResNet") and not name.endswith("V2")):
        return "caffe"
    return "tf"


def _keras_application(name, image, image_size, weights):
    constructor = getattr(keras.applications, name)  # CaptionTask.check_config has checked the name
    try:
        network = constructor(include_top=False, weights=weights, input_shape=(image_size, image_size, 3))
    except ValueError as error:  # too small an input for the network, say
        raise UsageError(f"keras-app:{name} cannot take {image_size}x{image_size} images ({error})")
    except Exception as error:  # offline, mostly
        raise UsageError(f"cannot get the ImageNet weights of keras-app:{name} ({type(error).__name__}: {error}); "
                         "they are downloaded once and need internet, or use --encoder small-cnn")
    network.trainable = False
    return network(ImageNetPreprocessing(application_preprocessing(name), name="imagenet_preprocessing")(image),
                   training=False)


def build_image_encoder(config, image_size, weights="imagenet"):
    """Pixels (0..255, (image_size, image_size, 3)) -> grid of feature vectors (cells, channels).
    `weights` is for keras-app networks: None builds one untrained (tests, offline checks)."""
    name = config["encoder"]
    image = keras.Input(shape=(image_size, image_size, 3), name="image")
    if name.startswith(KERAS_APPLICATION):
        x = _keras_application(name[len(KERAS_APPLICATION):], image, image_size, weights)
    else:  # small-cnn or resnet, on photos of 32 px or more (CaptionTask.check_config)
        x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(image)
        x = (_small_cnn if name == "small-cnn" else _resnet)(x, config["encoder_width"])
    grid = keras.layers.Reshape((-1, x.shape[-1]), name="grid")(x)
    return keras.Model(image, grid, name="image_encoder")


def build_concept_model(encoder, concept_count, augmentation, seed):
    """Encoder pretraining: photo -> logits of which of `concept_count` words its captions use.
    Random flips and shifts keep 6,000 photos from being memorised."""
    image = keras.Input(shape=encoder.input.shape[1:], name="image")
    x = image
    if augmentation["flip"]:
        x = keras.layers.RandomFlip("horizontal", seed=seed, name="random_flip")(x)
    if augmentation["shift"] > 0:
        x = keras.layers.RandomTranslation(augmentation["shift"], augmentation["shift"], fill_mode="reflect",
                                           seed=seed + 1, name="random_shift")(x)
    x = keras.layers.GlobalAveragePooling1D(name="concept_pool")(encoder(x))
    x = keras.layers.Dropout(augmentation["dropout"], name="concept_dropout")(x)
    return keras.Model(image, keras.layers.Dense(concept_count, name="concepts")(x), name="concept_model")


def _caption_layers(config, vocabulary_size):
    layers = decoder_layers(config, vocabulary_size)
    layers["feature_projection"] = keras.layers.Dense(config["units"], activation="relu", name="feature_projection")
    layers["feature_dropout"] = keras.layers.Dropout(config["dropout"], name="feature_dropout")
    layers["feature_mean"] = keras.layers.GlobalAveragePooling1D(name="feature_mean")
    return layers


def _memory(grid, config, layers):
    """Grid -> (memory the decoder attends over, the decoder's first states)."""
    memory = layers["feature_dropout"](layers["feature_projection"](grid))
    return memory, initial_states(layers["feature_mean"](memory), config, layers)


def build_caption_trainer(config, feature_shape, vocabulary_size):
    """The teacher-forced model trained on cached grids: {image_features, previous_words} ->
    {words: logits} (the previous words are the caption shifted right, `<start>` first)."""
    layers = _caption_layers(config, vocabulary_size)
    features = keras.Input(shape=tuple(feature_shape), name="image_features")
    previous_words = keras.Input(shape=(None,), dtype="int32", name="previous_words")
    memory, states = _memory(features, config, layers)
    logits, _, _ = decode(previous_words, states, memory, None, config, layers)
    return keras.Model({"image_features": features, "previous_words": previous_words}, {"words": logits},
                       name="caption_trainer")


def build_captioner(trainer, encoder, config, name="caption"):
    """The saved model: the frozen encoder in front of the trained decoder, {image,
    previous_words} -> {words: logits}, sharing the trainer's layers."""
    layers = {layer.name: layer for layer in trainer.layers}
    encoder.trainable = False
    image = keras.Input(shape=encoder.input.shape[1:], name="image")
    previous_words = keras.Input(shape=(None,), dtype="int32", name="previous_words")
    memory, states = _memory(encoder(image), config, layers)
    logits, _, _ = decode(previous_words, states, memory, None, config, layers)
    return keras.Model({"image": image, "previous_words": previous_words}, {"words": logits}, name=name)


class CaptionDecoder(StepDecoder):
    """A saved captioner rewired for beam search: `encode(images)` runs the CNN once per photo."""

    def __init__(self, model, config):
        layers = {layer.name: layer for layer in model.layers}
        encoder = layers["image_encoder"]
        image = keras.Input(shape=encoder.input.shape[1:], name="image")
        memory, states = _memory(encoder(image), config, layers)
        self.encoder = keras.Model(image, [memory, *states], name="encoder")
        self.build_step(config, layers, memory.shape[-1], len(states))

    def encode(self, images):
        memory, *states = self.encoder.predict_on_batch(images)
        return memory, np.ones(memory.shape[:2], bool), states  # every cell of the grid is real

    def step(self, words, memory, mask, states):
        logits, states, weights = super().step(words, memory, mask, states)
        logits[:, :3] = -1e9  # never write <pad>, <unk> or <start>: a caption says what it sees
        return logits, states, weights
