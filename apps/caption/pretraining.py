"""Pretraining an image encoder offline, on the captioning data itself.

An encoder trained from scratch by the captioning loss alone learns slowly: the decoder first
learns the language, and little gradient reaches the pixels. So nnkit first teaches the
encoder the visual concepts of the training captions (Fang et al. 2015, "From Captions to
Visual Concepts and Back"): for each of the commonest caption words, the fraction of a
photo's captions that use it ("dog" in 4 of 5 -> 0.8) is a soft multi-label target. The
encoder is then frozen and the decoder learns to write from its grid.
"""

from collections import Counter

import keras
import numpy as np

from nnkit.apps.caption.model import build_concept_model


def choose_concepts(captions_per_photo, count, min_photos):
    """The `count` words used with most photos (at least `min_photos` of them)."""
    photos_per_word = Counter(word for captions in captions_per_photo
                              for word in {word for caption in captions for word in caption})
    return [word for word, photos in photos_per_word.most_common(count) if photos >= min_photos]


def concept_targets(captions_per_photo, concepts):
    """(photos, concepts) float32: the fraction of each photo's captions that use each word."""
    column = {word: index for index, word in enumerate(concepts)}
    targets = np.zeros((len(captions_per_photo), len(concepts)), np.float32)
    for row, captions in enumerate(captions_per_photo):
        for caption in captions:
            for word in set(caption) & column.keys():
                targets[row, column[word]] += 1.0 / len(captions)
    return targets


def pretrain_encoder(encoder, settings, photos, captions, seed, verbose="auto"):
    """Train `encoder` (in place) to predict the concepts of the training photos, with early
    stopping on the validation photos; returns what it learned from, for the metadata.

    photos / captions: {"train": ..., "valid": ...}, the photos as uint8 arrays and, per photo,
    its captions as word lists."""
    from nnkit.errors import UsageError
    from nnkit.training.run import make_optimizer

    concepts = choose_concepts(captions["train"], settings["concepts"], settings["min_photos"])
    if not concepts:
        raise UsageError(f"no caption word is used with {settings['min_photos']} training photos; "
                         "lower pretraining.min_photos")
    model = build_concept_model(encoder, len(concepts), settings, seed)
    steps = -(-len(photos["train"]) // settings["batch_size"])
    schedule = {"optimizer": "adam", "learning_rate": settings["learning_rate"], "schedule": "cosine",
                "epochs": settings["epochs"], "warmup_epochs": 1, "momentum": 0.0, "weight_decay": 0.0,
                "clipnorm": None, "global_clipnorm": None}
    model.compile(optimizer=make_optimizer(schedule, steps),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(
        photos["train"], concept_targets(captions["train"], concepts), batch_size=settings["batch_size"],
        epochs=settings["epochs"], verbose=verbose, shuffle=True,
        validation_data=(photos["valid"], concept_targets(captions["valid"], concepts)),
        # The rate is high for most of a cosine schedule and the validation loss noisy there:
        # stop only after a long stall, and keep the best epoch's weights.
        callbacks=[keras.callbacks.EarlyStopping(patience=settings["early_stopping_patience"],
                                                 restore_best_weights=True)])
    return {"concepts": len(concepts), "epochs": len(history.history["loss"]),
            "best_val_loss": round(float(min(history.history["val_loss"])), 5)}
