"""Layers for images."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nnkit")
class ContrastNormalization(keras.layers.Layer):
    """Per image: subtract the paper's level, turn the ink positive whatever its polarity, and
    divide by the ink's contrast, so that paper comes out near 0 and ink near 1.

    Photos of paper vary in brightness, contrast and polarity (pen on paper, marker on a
    whiteboard, chalk on a board); after this layer they all look alike. The contrast is floored
    at `minimum_contrast` grey levels so that what is faint in a blank cell (sensor noise, a
    notebook's ruling, 10 to 20 levels in a phone photo) stays small instead of being blown up
    to the size of real ink; by default 30 levels with "median", 16 with "border" (what models
    saved with it were trained with).

    `background` says where the paper's level comes from:
    - "median" (new layers): the median of the whole image, since paper is most of a cell even
      when the cell's border is a thick grid line; the ink lies on the side of the median that
      has the far-out minority (the `ink_quantile` darkest or brightest pixels), and the
      contrast is how far that ink stands from the paper.
    - "border" (models saved before the option existed, whose config has no `background`):
      the mean of the border pixels, polarity from the sign of the mean, contrast the root
      mean square. A grid line along the border fools it, which is why "median" replaced it;
      it stays so that those models predict as they did.
    """

    BACKGROUNDS = ("median", "border")

    def __init__(self, minimum_contrast=None, background="median", ink_quantile=0.02, **kwargs):
        super().__init__(**kwargs)
        if background not in self.BACKGROUNDS:
            raise ValueError(f"background must be one of {', '.join(self.BACKGROUNDS)}, got '{background}'")
        if minimum_contrast is None:
            minimum_contrast = {"median": 30.0, "border": 16.0}[background]
        self.minimum_contrast = minimum_contrast
        self.background = background
        self.ink_quantile = ink_quantile

    @classmethod
    def from_config(cls, config):
        # Saved before `background` existed: those models were trained on the border statistic.
        return cls(**{"background": "border", **config})

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.background == "border":
            return self._border_normalized(images)
        return self._median_normalized(images)

    def _median_normalized(self, images):
        count = images.shape[1] * images.shape[2] * images.shape[3]
        pixels = ops.sort(ops.reshape(images, (-1, count)), axis=-1)
        # Order statistics by index (not ops.quantile) so every backend picks the same pixel.
        paper = pixels[:, count // 2]
        darkest = pixels[:, int(self.ink_quantile * (count - 1))]
        brightest = pixels[:, int(round((1 - self.ink_quantile) * (count - 1)))]
        dark_ink, bright_ink = paper - darkest, brightest - paper
        polarity = ops.where(bright_ink > dark_ink, 1.0, -1.0)
        contrast = ops.maximum(ops.maximum(dark_ink, bright_ink), self.minimum_contrast)
        scale = ops.cast(polarity, self.compute_dtype) / contrast
        return (images - paper[:, None, None, None]) * scale[:, None, None, None]

    def _border_normalized(self, images):
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
        return {**super().get_config(), "minimum_contrast": self.minimum_contrast, "background": self.background,
                "ink_quantile": self.ink_quantile}


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
