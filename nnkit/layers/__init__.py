"""nnkit's custom Keras layers. Each is registered for Keras serialization (as `nnkit>Name`)
and built from `keras.ops` only, so saved models reload on every backend.

Importing this package registers them all; `nnkit.saving.load_model` does so before loading.
"""

from nnkit.layers.attention import AdditiveAttention, MultiplicativeAttention
from nnkit.layers.image import ContrastNormalization, ImageNetPreprocessing
from nnkit.layers.recurrent import Elman, ElmanCell, Jordan, JordanCell
from nnkit.layers.stateful import Stateful
from nnkit.layers.words import HashedWordEmbedding, MaskedPooling, OneHot, PaddingMask, ReversibleEmbedding

__all__ = ["AdditiveAttention", "ContrastNormalization", "Elman", "ElmanCell", "HashedWordEmbedding", "Jordan",
           "ImageNetPreprocessing", "JordanCell", "MaskedPooling", "MultiplicativeAttention", "OneHot",
           "PaddingMask", "ReversibleEmbedding", "Stateful"]
