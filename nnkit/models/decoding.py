"""Writing a sequence word by word from a decoder: greedy choice and beam search.

A decoder here is anything with `encode(inputs) -> (memory, mask, states)` and
`step(words, memory, mask, states) -> (logits, states, attention weights or None)`, every array
batch-first (`nnkit.models.seq2seq.Seq2SeqDecoder`; captioning's decoder has the same shape).
All sentences, and all beams of a sentence, go through the decoder as one batch per step: a
beam of 5 costs one decoder call per word, as greedy does, five times wider.
"""

from dataclasses import dataclass, field

import numpy as np



@dataclass
class Hypothesis:
    words: list  # ids, without <bos> and <eos>
    log_probability: float
    score: float  # the log-probability normalised by length: what hypotheses are ranked by
    attention: list = field(default_factory=list)  # a source-length row per emitted id (<eos> too)


def log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def length_normalised(log_probability, length, alpha):
    """GNMT's length penalty (Wu et al. 2016): divide by ((5 + length) / 6) ** alpha, so that
    the search does not favour short outputs merely for adding fewer negative terms."""
    return log_probability / (((5.0 + length) / 6.0) ** alpha)


def greedy_search(decoder, inputs, bos, eos, max_length):
    """The likeliest next word at every step: one Hypothesis per input row."""
    return [best[0] for best in beam_search(decoder, inputs, bos, eos, max_length, beam_size=1)]


def beam_search(decoder, inputs, bos, eos, max_length, beam_size=5, alpha=0.6, n_best=1, min_length=0):
    """The `n_best` hypotheses of highest length-normalised score for every input row.

    Each step extends every live beam of a sentence by every word and keeps the best
    candidates, as many as the sentence has beams left. A candidate ending in `<eos>` is
    finished and its beam retired (the beam shrinks, as in Bahdanau et al.'s search), so beam
    size 1 is exactly greedy search. After `max_length` words the live beams end as they are;
    before `min_length` words `<eos>` cannot be chosen.
    """
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"need 1 <= n_best <= beam_size, got n_best {n_best} and beam_size {beam_size}")
    memory, mask, states = decoder.encode(inputs)
    sentences = len(memory)
    # Row s * beam_size + k is beam k of sentence s; at first only beam 0 of each is alive
    # (the others would be copies of it). A dead beam has score -inf and is never extended.
    rows = np.repeat(np.arange(sentences), beam_size)
    memory, mask, states = memory[rows], mask[rows], [state[rows] for state in states]
    dead = Hypothesis([], -np.inf, -np.inf)
    beams = [Hypothesis([], 0.0, 0.0) if k == 0 else dead for _ in range(sentences) for k in range(beam_size)]
    finished = [[] for _ in range(sentences)]

    for length in range(max_length):
        words = np.asarray([beam.words[-1] if beam.words else bos for beam in beams], np.int32)
        logits, states, weights = decoder.step(words, memory, mask, states)
        if length < min_length:
            logits[:, eos] = -np.inf
        candidates = np.asarray([beam.log_probability for beam in beams])[:, None] + log_softmax(logits)
        vocabulary = candidates.shape[1]
        per_sentence = candidates.reshape(sentences, beam_size * vocabulary)
        next_beams, parents = [], []
        for sentence in range(sentences):
            kept, slots = [], beam_size - len(finished[sentence])
            for flat in _best(per_sentence[sentence], slots):
                log_probability = per_sentence[sentence, flat]
                if not np.isfinite(log_probability):
                    break
                beam, word = divmod(int(flat), vocabulary)
                row = sentence * beam_size + beam
                attention = beams[row].attention + ([weights[row]] if weights is not None else [])
                if word == eos:
                    finished[sentence].append(_scored(beams[row].words, log_probability, attention, alpha, ended=True))
                else:
                    kept.append((row, Hypothesis(beams[row].words + [word], log_probability, 0.0, attention)))
            kept += [(sentence * beam_size, dead)] * (beam_size - len(kept))
            parents += [row for row, _ in kept]
            next_beams += [beam for _, beam in kept]
        beams, states = next_beams, [state[parents] for state in states]
        if all(beam is dead for beam in beams):
            break
    for index, beam in enumerate(beams):  # out of words: the live beams end where they are
        if beam is not dead:
            finished[index // beam_size].append(_scored(beam.words, beam.log_probability, beam.attention, alpha,
                                                        ended=False))
    return [sorted(hypotheses, key=lambda h: -h.score)[:n_best] for hypotheses in finished]


def _best(values, count):
    """Indices of the `count` largest values, largest first (a partial sort: the rows are
    beam_size x vocabulary long)."""
    if count <= 0:
        return np.empty(0, np.int64)
    top = np.argpartition(-values, count - 1)[:count] if count < len(values) else np.arange(len(values))
    return top[np.argsort(-values[top], kind="stable")]


def _scored(words, log_probability, attention, alpha, ended):
    length = len(words) + (1 if ended else 0)  # <eos> is a predicted word too
    return Hypothesis(list(words), float(log_probability),
                      float(length_normalised(log_probability, length, alpha)), attention)
