"""Caption text: lower-cased words without punctuation, framed by `<start>` and `<end>`.

Ids 0-3 are `<pad>`, `<unk>`, `<start>`, `<end>`; the vocabulary and id code is translation's
(`nnkit.text.sentences`), with these names for the sentence marks.
"""

import re

from nnkit.text.words import PAD, UNK

START, END = "<start>", "<end>"
SPECIALS = (PAD, UNK, START, END)
# Words and numbers; a hyphen or apostrophe inside a word stays ("t-shirt", "man's").
WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def caption_words(caption):
    """'A dog, running on the beach.' -> ['a', 'dog', 'running', 'on', 'the', 'beach']"""
    return WORD.findall(caption.lower())


def corpus_bleu(hypotheses, references, orders=(1, 2, 3, 4)):
    """{"bleu_n": corpus BLEU-n in 0..1} of caption word lists against each photo's reference
    word lists (any number per photo), as captioning papers report it: uniform weights over
    1..n-grams, brevity penalty from the closest reference length (sacrebleu, no re-tokenizing)."""
    import sacrebleu

    most = max(len(photo_references) for photo_references in references)
    # One stream per reference number; a photo with fewer references has None in the rest.
    streams = [[" ".join(photo_references[k]) if k < len(photo_references) else None
                for photo_references in references] for k in range(most)]
    joined = [" ".join(hypothesis) for hypothesis in hypotheses]
    return {f"bleu_{n}": round(sacrebleu.BLEU(max_ngram_order=n, tokenize="none").corpus_score(joined, streams).score
                               / 100, 4) for n in orders}
