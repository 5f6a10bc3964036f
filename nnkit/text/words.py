"""Words in, integer ids out: tokenization, vocabularies and word hashing.

This is the text preprocessing a saved model carries in its metadata (the vocabulary, the tag
set, the hashing parameters), done in plain Python so that the model itself stays
backend-agnostic. Every model input id 0 means padding.
"""

import re
import unicodedata
import zlib
from collections import Counter

import numpy as np

PAD, UNK = "<pad>", "<unk>"
# A word: letters and digits, with inner apostrophes or dots ("i'd", "o'clock", "a.m"), and
# optionally a final dot, which is kept only when the vocabulary knows the word with it ("st.").
WORD = re.compile(r"[^\W_]+(?:['.][^\W_]+)*\.?")


def tokenize(text, known_words=()):
    """Lowercase `text` and split it into words; punctuation between words is dropped."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    words = []
    for word in WORD.findall(text):
        if word.endswith(".") and word not in known_words:
            word = word.rstrip(".")
        words.append(word)
    return words


class Vocabulary:
    """A list of symbols; id 0 is padding, id 1 stands for every symbol not in the list."""

    def __init__(self, symbols):
        self.symbols = list(symbols)
        self.index = {symbol: position for position, symbol in enumerate(self.symbols)}

    @classmethod
    def build(cls, sequences, min_count=1):
        """From training sequences: symbols seen at least `min_count` times, most frequent first."""
        counts = Counter(symbol for sequence in sequences for symbol in sequence)
        kept = sorted((s for s, n in counts.items() if n >= min_count), key=lambda s: (-counts[s], s))
        return cls([PAD, UNK, *kept])

    def __len__(self):
        return len(self.symbols)

    def __contains__(self, symbol):
        return symbol in self.index

    def ids(self, sequence):
        return [self.index.get(symbol, 1) for symbol in sequence]


def letter_trigrams(word):
    """The letter trigrams of '#word#' (the word with boundary marks): 'to' -> #to, to#."""
    marked = f"#{word}#"
    return [marked[i:i + 3] for i in range(len(marked) - 2)]


def trigram_ids(word, buckets, max_trigrams):
    """Hash each distinct trigram of `word` into 1..buckets-1 (0 is padding).

    CRC32 rather than Python's `hash`, which is salted per process: the ids must be the
    same when the model is used as when it was trained.
    """
    seen = dict.fromkeys(letter_trigrams(word))
    return [zlib.crc32(trigram.encode("utf-8")) % (buckets - 1) + 1 for trigram in seen][:max_trigrams]


def pad(sequences, length=None, dtype=np.int32):
    """Right-pad lists of ids with 0 to one array (n, length)."""
    length = length or max((len(s) for s in sequences), default=1) or 1
    array = np.zeros((len(sequences), length), dtype)
    for row, sequence in enumerate(sequences):
        array[row, : len(sequence)] = sequence[:length]
    return array


def hash_sentences(sentences, buckets, max_trigrams):
    """Trigram ids of every word: (n, longest sentence, max_trigrams), 0-padded."""
    length = max((len(s) for s in sentences), default=1) or 1
    array = np.zeros((len(sentences), length, max_trigrams), np.int32)
    for row, words in enumerate(sentences):
        for column, word in enumerate(words):
            ids = trigram_ids(word, buckets, max_trigrams)
            array[row, column, : len(ids)] = ids
    return array


# What a word may carry that a language model's vocabulary keeps apart, or lacks.
CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
EDGE_PUNCTUATION = "\"'`([{.,;:!?)]}"
NUMBER = re.compile(r"[+-]?\d[\d.,:/-]*%?")


def words_for_vocabulary(text, vocabulary, lowercase=True, number_token=None):
    """Split raw text into words as a language model's training corpus spelled them.

    Whitespace separates words; a word the vocabulary lacks is tried without the punctuation
    at its edges (kept as words of their own when the vocabulary has them) and with a clitic
    split off ("company's" -> "company 's", PTB style), and a number becomes `number_token`
    (PTB writes every number as "N"). Whatever is still unknown is returned as it is: the
    caller reads it as `<unk>`.
    """
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    words = []
    for word in (text.lower() if lowercase else text).split():
        if word in vocabulary:
            words.append(word)
            continue
        core = word.strip(EDGE_PUNCTUATION)
        start = word.find(core) if core else len(word)
        leading, trailing = word[:start], word[start + len(core):]
        words.extend(mark for mark in leading if mark in vocabulary)
        if core:
            clitic = next((c for c in CLITICS if core.endswith(c) and core[: -len(c)] in vocabulary), None)
            if clitic:
                words.extend((core[: -len(clitic)], clitic))
            elif core not in vocabulary and number_token in vocabulary and NUMBER.fullmatch(core):
                words.append(number_token)
            else:
                words.append(core)
        words.extend(mark for mark in trailing if mark in vocabulary)
    return words
