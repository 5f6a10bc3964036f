"""Sentences in, tokens out, and back, for translation.

Words are split with the Moses tokenizer of each language (sacremoses: punctuation, clitics,
numbers), keeping case, and joined again with its detokenizer, so that BLEU is computed on
ordinary text against the raw references. Moses is used for the languages sacremoses has its own
tables for (its nonbreaking prefixes: `moses_languages`), except Chinese and Cantonese, which it
does not segment. Every other language gets the Unicode fallback (`unicode_tokens`): a character
of a script written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan) is a token of
its own; elsewhere letters, marks and digits make words (keeping inner hyphens and apostrophes,
and a number's inner dots and commas), and every other character is a token.
"""

import unicodedata
from functools import lru_cache

TOKENIZERS = ("moses", "unicode")
# Moses treats a run of these as one word: a whole Chinese sentence would be one token.
UNSEGMENTED_BY_MOSES = ("zh", "yue")
# Scripts written without spaces between words (by script extension, so that the kana length
# mark and the CJK iteration marks count too).
SPACELESS = "".join(rf"\p{{scx={script}}}" for script in
                    ("Han", "Hiragana", "Katakana", "Bopomofo", "Thai", "Lao", "Khmer", "Myanmar", "Tibetan"))


def base_language(language):
    """The language of a code that may name a region or script too: pt_BR, zh-Hant -> pt, zh."""
    return language.replace("_", "-").split("-")[0].lower()


@lru_cache(maxsize=None)
def moses_languages():
    """The languages sacremoses has its own tables for, less those it does not segment."""
    from sacremoses.corpus import NonbreakingPrefixes

    return frozenset(NonbreakingPrefixes().available_langs.values()) - set(UNSEGMENTED_BY_MOSES)


def tokenizer_for(language, choice="auto"):
    """`moses` or `unicode`: the tokenizer `choice` (data.tokenizer) means for `language`."""
    if choice != "auto":
        return choice
    return "moses" if base_language(language) in moses_languages() else "unicode"


@lru_cache(maxsize=None)
def _moses(language):
    from sacremoses import MosesDetokenizer, MosesTokenizer

    language = base_language(language)
    return MosesTokenizer(lang=language), MosesDetokenizer(lang=language)


@lru_cache(maxsize=None)
def _unicode_pattern():
    import regex  # sacremoses's own dependency: Unicode scripts, grapheme clusters

    letter = rf"(?:(?![{SPACELESS}])[\p{{L}}\p{{M}}\p{{N}}])"
    word = rf"{letter}+(?:(?:[-'\u2019]|(?<=\p{{N}})[.,](?=\p{{N}})){letter}+)*"
    return regex.compile(rf"(?=[{SPACELESS}])\X|{word}|(?!\s)\X"), regex.compile(rf"[{SPACELESS}]")


def unicode_tokens(sentence):
    """The Unicode fallback's tokens of `sentence` (see the module's docstring)."""
    return _unicode_pattern()[0].findall(unicodedata.normalize("NFC", sentence))


# Punctuation that Unicode calls "other" (Po) but that attaches to the next word (a hashtag, a
# handle, Spanish's inverted marks) or stands free.
OPENING = set("¿¡#@")
FREE = set("&*/\\§†‡")
QUOTES = set("\"'")


def unicode_join(tokens):
    """Text from the Unicode fallback's tokens: no space beside a character of a spaceless script
    or wide (CJK) punctuation, before closing punctuation or after opening punctuation; straight
    quotes open and close in turn."""
    spaceless = _unicode_pattern()[1]
    text, previous, quotes = "", None, 0

    def kind(token):
        first = token[0]
        category = unicodedata.category(first)
        if spaceless.match(first) or (category[0] == "P" and unicodedata.east_asian_width(first) in "WF"):
            return "spaceless"
        if len(token) > 1 or category[0] != "P" or category in ("Pd", "Pc") or first in FREE:
            return "word"
        if first in QUOTES:
            return "quote"
        return "opening" if category in ("Ps", "Pi") or first in OPENING else "closing"

    for token in tokens:
        current = kind(token)
        if current == "quote":
            quotes += 1
            current = "opening" if quotes % 2 else "closing"
        joined = previous in (None, "spaceless", "opening") or current in ("spaceless", "closing")
        text += ("" if joined else " ") + token
        previous = current
    return text


def tokenize(sentence, language, tokenizer="moses", subwords=None):
    """The tokens of `sentence`: Moses's, unescaped (a literal `&`, not `&amp;`), or the Unicode
    fallback's (`tokenizer` is one of TOKENIZERS: see `tokenizer_for`); cut into the pieces of
    the SentencePiece model `subwords` when given (see `train_subwords`)."""
    if tokenizer == "unicode":
        tokens = unicode_tokens(sentence.strip())
    else:
        tokens = _moses(language)[0].tokenize(sentence.strip(), escape=False)
    return subword_pieces(tokens, subwords) if subwords else tokens


def detokenize(tokens, language, tokenizer="moses", subwords=None):
    """Text from tokens (or from SentencePiece pieces, when `subwords` is the model they are of)."""
    if subwords:
        tokens = subword_tokens(tokens)
    if tokenizer == "unicode":
        return unicode_join(tokens)
    return _moses(language)[1].detokenize(tokens)


# Subword vocabularies (data.vocabulary: subwords): a SentencePiece model per language, trained on
# its tokenizer's tokens of the training sentences (joined by spaces, as subword-nmt does after
# Moses), so that tokenization, scoring and detokenization stay as with words. The model goes
# into the saved model's metadata (base64), and is loaded once per process.
VOCABULARIES = ("words", "subwords")
WORD_BOUNDARY = "\u2581"  # SentencePiece's "▁", the space before a piece that starts a word


def train_subwords(token_lists, size):
    """A SentencePiece unigram model (serialized, base64 text) of at most `size` pieces for the
    token lists; its ids are unused (the task numbers the pieces it sees), so it has no <s>, </s>.
    A small corpus gets fewer pieces than asked rather than an error."""
    import base64
    import io

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([" ".join(tokens) for tokens in token_lists if tokens]), model_writer=model,
        vocab_size=size, hard_vocab_limit=False, bos_id=-1, eos_id=-1, character_coverage=1.0,
        normalization_rule_name="identity",  # the text is the tokenizer's, to come back unchanged
        minloglevel=2, num_threads=1)
    return base64.b64encode(model.getvalue()).decode("ascii")


@lru_cache(maxsize=8)
def _subword_model(serialized):
    import base64

    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(serialized))


def subword_pieces(tokens, serialized):
    """The SentencePiece pieces of a token list ("▁" marks a piece that starts a token)."""
    return _subword_model(serialized).encode(" ".join(tokens), out_type=str) if tokens else []


def subword_tokens(pieces):
    """Tokens from pieces, as SentencePiece decodes them: joined, each "▁" a space. A source piece
    copied for an <unk> joins the same way."""
    return "".join(pieces).replace(WORD_BOUNDARY, " ").split()
