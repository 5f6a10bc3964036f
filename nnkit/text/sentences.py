"""Sentences as id sequences and back: the vocabulary code that translation and captioning share.

Ids 0-3 are `<pad>`, `<unk>`, `<bos>`, `<eos>` (captioning calls the last two `<start>` and
`<end>`). How sentences become tokens is each task's own (translation: apps/translate/text.py).
"""

import numpy as np

from nnkit.text.words import PAD, UNK, Vocabulary

BOS, EOS = "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
def build_vocabulary(sentences, min_count, max_size, specials=SPECIALS):
    """The specials, then the tokens seen at least `min_count` times, most frequent first."""
    words = [word for word in Vocabulary.build(sentences, min_count).symbols[2:] if word not in specials]
    return [*specials, *words[: max(0, max_size - len(specials))]]


def encode(sentences, vocabulary, add_bos=False, add_eos=False):
    """Token lists -> 0-padded id array; unknown tokens get `<unk>`'s id (1), and ids 2 and 3
    (`<bos>`, `<eos>`) begin and end a sentence when asked."""
    index = {word: position for position, word in enumerate(vocabulary)}
    rows = [[2] * add_bos + [index.get(word, 1) for word in sentence] + [3] * add_eos for sentence in sentences]
    array = np.zeros((len(rows), max((len(row) for row in rows), default=1) or 1), np.int32)
    for number, row in enumerate(rows):
        array[number, : len(row)] = row
    return array


def decode(ids, vocabulary, source_tokens=None, attention=None):
    """Ids -> tokens. An `<unk>` is replaced by the source token it attended to most (Luong
    et al. 2015), when the attention is known: names and numbers come through untranslated."""
    tokens = []
    for position, word_id in enumerate(ids):
        word = vocabulary[word_id]
        if word == UNK and source_tokens and attention is not None and position < len(attention):
            word = source_tokens[int(np.argmax(attention[position][: len(source_tokens)]))]
        tokens.append(word)
    return tokens
