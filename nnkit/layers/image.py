"""Layers for images."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nnkit")
class ContrastNormalization(keras.layers.Layer):
    """Per image: subtract the paper's level (the mean of the border pixels), turn the ink
    positive whatever its polarity, and divide by the contrast (root mean square).

    Photos of paper vary in brightness, contrast and polarity (pen on paper, chalk on a
    board); after this layer they all look alike: background near 0, ink positive. The
    contrast is floored at `minimum_contrast` grey levels so that a blank cell's sensor noise
    stays small instead of being blown up to the size of real ink.
    """

    def __init__(self, minimum_contrast=16.0, **kwargs):
        super().__init__(**kwargs)
        self.minimum_contrast = minimum_contrast

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        border = ops.concatenate(
            [images[:, 0, :, :], images[:, -1, :, :], images[:, :, 0, :], images[:, :, -1, :]], axis=1
        )
        background = ops.mean(border, axis=(1, 2), keepdims=True)[:, :, :, None]
        centred = images - background
        polarity = ops.where(ops.mean(centred, axis=(1, 2, 3), keepdims=True) < 0, -1.0, 1.0)
        contrast = ops.maximum(ops.sqrt(ops.mean(ops.square(centred), axis=(1, 2, 3), keepdims=True)),
                               self.minimum_contrast)
        return centred * ops.cast(polarity, self.compute_dtype) / contrast

    def get_config(self):
        return {**super().get_config(), "minimum_contrast": self.minimum_contrast}


# Per-channel statistics the ImageNet networks of keras.applications were trained with.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="nnkit")
class ImageNetPreprocessing(keras.layers.Layer):
    """RGB pixels 0..255 -> the input a keras.applications network expects, as a layer, so
    that the saved model carries it: "caffe" (BGR, mean subtracted: VGG, ResNet), "tf" (-1..1:
    MobileNet, Inception, Xception, ResNetV2), "torch" (0..1, standardised: DenseNet), or "none"
    (the network does its own: EfficientNet, ConvNeXt, MobileNetV3)."""

    MODES = ("caffe", "tf", "torch", "none")

    def __init__(self, mode="none", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, got '{mode}'")
        self.mode = mode

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.mode == "caffe":
            return images[..., ::-1] - ops.convert_to_tensor(_CAFFE_BGR_MEAN, self.compute_dtype)
        if self.mode == "tf":
            return images / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, self.compute_dtype)
            return (images / 255.0 - mean) / ops.convert_to_tensor(_TORCH_STD, self.compute_dtype)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
