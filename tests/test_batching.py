"""Padded batches of variable-length sequences (nnkit.data.batching): each batch padded only to
its own longest row, rounded to a multiple of 8, and a time axis Keras leaves open."""

import numpy as np
import pytest

from nnkit.data.batching import PaddedBatches


def sequences(lengths, width=24):
    ids = np.zeros((len(lengths), width), np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = 1 + np.arange(length) % 5
    return {"tokens": ids}, {"out": ids}


def test_batches_are_padded_to_their_own_longest_row_widest_first_then_narrowest():
    inputs, targets = sequences([3, 20, 9, 2, 5, 4])
    batches = PaddedBatches(inputs, targets, np.array([3, 20, 9, 2, 5, 4]), batch_size=2)
    # Rows in pairs (3, 20), (9, 2), (5, 4): widths 24, 16 and 8, the widest and narrowest first.
    assert [batches[i][0]["tokens"].shape[1] for i in range(len(batches))] == [24, 8, 16]
    assert [batches[i][1]["out"].shape for i in range(len(batches))] == [(2, 24), (2, 8), (2, 16)]


def test_when_the_first_two_batches_are_as_wide_the_second_is_padded_wider():
    """Keras takes the batches' shapes from the first two: were both 8 wide, it would fix the
    time axis at 8 and a later epoch's 16-wide batch would stop training."""
    lengths = np.array([3, 3, 4, 4])
    batches = PaddedBatches(*sequences(lengths), lengths, batch_size=2)
    first, second = (batches[i][0]["tokens"] for i in (0, 1))
    assert first.shape[1] == 8 and second.shape[1] == 16 and not second[:, 8:].any()  # only padding added


@pytest.mark.parametrize("seed", [0, 4])  # seeds whose first epoch pairs each long row with a short one
def test_training_goes_on_when_a_later_epoch_has_other_widths(seed):
    import keras

    lengths = np.array([9, 9, 3, 3])
    inputs, targets = sequences(lengths, width=16)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    out = keras.layers.Dense(8, name="out")(keras.layers.Embedding(8, 4, mask_zero=True)(tokens))
    model = keras.Model({"tokens": tokens}, {"out": out})
    model.compile("adam", {"out": keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)})
    history = model.fit(PaddedBatches(inputs, targets, lengths, 2, shuffle=True, seed=seed), epochs=6, verbose=0)
    assert len(history.history["loss"]) == 6
