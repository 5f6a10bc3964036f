"""Greedy and beam search on hand-built decoders whose best outputs are known."""

import itertools

import numpy as np
import pytest

from nnkit.models.decoding import beam_search, greedy_search, length_normalised

BOS, EOS = 1, 2


class MarkovDecoder:
    """The next word depends only on the last one: log-probabilities from a table."""

    def __init__(self, table):
        self.table = np.log(np.asarray(table, np.float64))
        self.calls = []

    def encode(self, inputs):
        count = len(inputs)
        return np.zeros((count, 3, 1)), np.ones((count, 3), bool), [np.zeros((count, 1))]

    def step(self, words, memory, mask, states):
        self.calls.append(len(words))
        weights = np.tile([[0.5, 0.5, 0.0]], (len(words), 1))
        return self.table[words], states, weights


def table(rows, size=5):
    full = np.full((size, size), 1e-9)
    for word, probabilities in rows.items():
        full[word] = 1e-9
        for next_word, p in probabilities.items():
            full[word, next_word] = p
    return full / full.sum(axis=1, keepdims=True)


# From <bos>: a (3) 0.6, b (4) 0.4. After a, <eos> only 0.35; after b, 0.9. Greedy takes a and
# ends with 0.6 * 0.35 = 0.21; "b <eos>" has 0.4 * 0.9 = 0.36.
TRAP = table({BOS: {3: 0.6, 4: 0.4}, 3: {EOS: 0.35, 3: 0.33, 4: 0.32}, 4: {EOS: 0.9, 3: 0.1}, EOS: {EOS: 1.0}})


def test_beam_search_finds_what_greedy_misses():
    greedy = greedy_search(MarkovDecoder(TRAP), [0], BOS, EOS, max_length=5)[0]
    assert greedy.words == [3] and greedy.log_probability == pytest.approx(np.log(0.6 * 0.35))
    best = beam_search(MarkovDecoder(TRAP), [0], BOS, EOS, max_length=5, beam_size=2, alpha=0.0)[0][0]
    assert best.words == [4] and best.log_probability == pytest.approx(np.log(0.36))
    assert len(best.attention) == 2 and np.allclose(np.sum(best.attention, axis=1), 1.0)  # b and <eos>


def test_beam_size_one_is_greedy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        probabilities = rng.dirichlet(np.ones(6) * 0.5, size=6)
        decoder = MarkovDecoder(probabilities)
        expected, word = [], BOS
        for _ in range(7):  # the argmax chain, by hand
            word = int(np.argmax(probabilities[word]))
            if word == EOS:
                break
            expected.append(word)
        for alpha in (0.0, 0.6):
            found = beam_search(decoder, [0], BOS, EOS, max_length=7, beam_size=1, alpha=alpha)[0][0]
            assert found.words == expected
        assert greedy_search(decoder, [0], BOS, EOS, max_length=7)[0].words == expected


def test_a_wide_beam_is_exhaustive():
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.ones(4), size=4)
    decoder = MarkovDecoder(probabilities)

    def log_probability(words, ended):
        chain = [BOS, *words] + ([EOS] if ended else [])
        return sum(np.log(probabilities[a, b]) for a, b in zip(chain, chain[1:]))

    candidates = [(log_probability(list(words), True), list(words))
                  for length in range(3) for words in itertools.product([0, 1, 3], repeat=length)]
    candidates += [(log_probability(list(words), False), list(words)) for words in itertools.product([0, 1, 3], repeat=3)]
    best = beam_search(decoder, [0], BOS, EOS, max_length=3, beam_size=64, alpha=0.0, n_best=3)[0]
    expected = sorted(candidates, key=lambda c: -c[0])[:3]
    assert [h.words for h in best] == [words for _, words in expected]
    np.testing.assert_allclose([h.log_probability for h in best], [lp for lp, _ in expected])


def test_sentences_and_beams_share_one_decoder_call_per_step():
    decoder = MarkovDecoder(TRAP)
    results = beam_search(decoder, [0, 0, 0], BOS, EOS, max_length=4, beam_size=3, n_best=2)
    assert len(results) == 3 and all(len(r) == 2 for r in results)
    assert len(decoder.calls) <= 4 and set(decoder.calls) == {9}  # 3 sentences x 3 beams per call
    assert results[0][0].words == results[2][0].words


def test_length_penalty_and_bad_arguments():
    assert length_normalised(-6.0, 1, 0.0) == -6.0
    assert length_normalised(-6.0, 7, 1.0) == pytest.approx(-3.0)  # ((5 + 7) / 6) = 2
    with pytest.raises(ValueError, match="n_best"):
        beam_search(MarkovDecoder(TRAP), [0], BOS, EOS, 3, beam_size=2, n_best=3)


def test_min_length_keeps_eos_back():
    # From <bos>, <eos> 0.7 and a 0.3; after a, <eos> 0.9: without a minimum the empty output wins.
    eager = table({BOS: {EOS: 0.7, 3: 0.3}, 3: {EOS: 0.9, 3: 0.1}, EOS: {EOS: 1.0}})
    assert beam_search(MarkovDecoder(eager), [0], BOS, EOS, 5, beam_size=2, alpha=0.0)[0][0].words == []
    best = beam_search(MarkovDecoder(eager), [0], BOS, EOS, 5, beam_size=2, alpha=0.0, min_length=1)[0][0]
    # The words left are renormalised: a has probability 1 once <eos> is barred.
    assert best.words == [3] and best.log_probability == pytest.approx(np.log(0.9))
