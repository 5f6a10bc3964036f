"""Tokenization, vocabularies, word hashing and the word-representation layers."""

import keras
import numpy as np
import pytest

from nnkit.layers import HashedWordEmbedding, MaskedPooling, OneHot
from nnkit.text.words import Vocabulary, hash_sentences, letter_trigrams, pad, tokenize, trigram_ids


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("I'd like to fly from Boston, to DENVER!") == ["i'd", "like", "to", "fly", "from", "boston", "to", "denver"]
    assert tokenize("  ...?!  ") == []
    assert tokenize("flight 838 at 7 o\u2019clock") == ["flight", "838", "at", "7", "o'clock"]


def test_tokenize_keeps_a_final_dot_only_for_known_words():
    assert tokenize("st. louis.", known_words={"st."}) == ["st.", "louis"]
    assert tokenize("st. louis.") == ["st", "louis"]


def test_vocabulary_reserves_padding_and_unknown():
    vocabulary = Vocabulary.build([["to", "boston"], ["to", "denver"], ["to"]], min_count=2)
    assert vocabulary.symbols == ["<pad>", "<unk>", "to"]
    assert vocabulary.ids(["to", "paris"]) == [2, 1]


def test_word_hashing_is_stable_and_in_range():
    assert letter_trigrams("to") == ["#to", "to#"]
    ids = trigram_ids("boston", buckets=64, max_trigrams=24)
    assert len(ids) == 6 and all(1 <= i < 64 for i in ids)
    # CRC32, not Python's salted hash: the same ids in every process.
    assert trigram_ids("to", 4096, 24) == [x % 4095 + 1 for x in (1393877392, 3971686276)]
    array = hash_sentences([["to", "boston"], ["denver"]], buckets=64, max_trigrams=4)
    assert array.shape == (2, 2, 4) and (array[1, 1] == 0).all() and (array[0, 1] > 0).all()


def test_pad_right_pads_with_zero():
    np.testing.assert_array_equal(pad([[3, 4], [5]]), [[3, 4], [5, 0]])


def test_one_hot_has_an_unknown_dimension_and_masks_padding():
    layer = OneHot(4)
    ids = np.array([[2, 1, 0]])
    vectors = keras.ops.convert_to_numpy(layer(ids))
    np.testing.assert_array_equal(vectors[0], [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(ids)), [[True, True, False]])


def test_hashed_embedding_sums_trigram_vectors_and_masks_padding():
    layer = HashedWordEmbedding(8, 3, embeddings_initializer="ones")
    ids = np.array([[[1, 2, 0], [0, 0, 0]]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(ids)), [[[2, 2, 2], [0, 0, 0]]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(ids)), [[True, False]])
    clone = HashedWordEmbedding.from_config(layer.get_config())
    assert (clone.buckets, clone.output_dim) == (8, 3)


def test_masked_pooling_ignores_padding():
    sequence = np.array([[[1.0], [3.0], [-50.0]]])
    mask = np.array([[True, True, False]])
    assert float(MaskedPooling("mean")(sequence, mask=mask)[0, 0]) == pytest.approx(2.0)
    assert float(MaskedPooling("max")(-sequence, mask=mask)[0, 0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="mean' or 'max"):
        MaskedPooling("sum")
