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


def tokenize(sentence, language, tokenizer="moses"):
    """The tokens of `sentence`: Moses's, unescaped (a literal `&`, not `&amp;`), or the Unicode
    fallback's (`tokenizer` is one of TOKENIZERS: see `tokenizer_for`)."""
    if tokenizer == "unicode":
        return unicode_tokens(sentence.strip())
    return _moses(language)[0].tokenize(sentence.strip(), escape=False)


def detokenize(tokens, language, tokenizer="moses"):
    if tokenizer == "unicode":
        return unicode_join(tokens)
    return _moses(language)[1].detokenize(tokens)
