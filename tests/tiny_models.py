"""Tiny training runs and the small data they learn from, one per task: enough to check the
wiring end to end (train, save, load, predict, serve, export), not the quality. The trained
models themselves are session fixtures in conftest.py, shared by every test module."""

import io
import zipfile

import numpy as np
from PIL import Image

# Tiny and quick; no batch norm, augmentation or cosine decay in so few steps.
TINY_XO = ["--epochs", "6", "--batch-size", "32", "--set", "data.generated_train_per_class=200",
           "--set", "data.generated_test_per_class=40", "--set", "model.width=16", "--set", "model.dense_units=16",
           "--set", "model.batch_norm=false", "--set", "training.schedule=constant",
           "--set", "augmentation.rotation_degrees=0", "--set", "augmentation.shift=0", "--set", "augmentation.zoom=0"]

# A small, fast model on a slice of ATIS.
TINY_SLOTS = ["--epochs", "2", "--batch-size", "32", "--layers", "1", "--units", "16",
              "--set", "data.train_limit=400", "--set", "data.test_limit=100",
              "--set", "model.embedding_dim=16", "--set", "model.hash_buckets=512",
              "--set", "training.schedule=constant"]

# A small model on a short text.
TINY_LM = ["--epochs", "2", "--batch-size", "4", "--bptt", "8", "--layers", "1", "--units", "16",
           "--set", "model.embedding_dim=16", "--set", "training.optimizer=adam",
           "--set", "training.learning_rate=0.01"]
SENTENCES = ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog",
             "the dog saw the cat", "a bird sat on the cat"]

PAIRS = [("Ein Mann fährt Fahrrad.", "A man rides a bike."), ("Eine Frau liest ein Buch.", "A woman reads a book."),
         ("Zwei Hunde spielen.", "Two dogs play."), ("Ein Kind isst.", "A child eats."),
         ("Der Hund läuft.", "The dog runs.")]
TINY_TRANSLATE = ["--epochs", "12", "--batch-size", "16", "--set", "model.units=32", "--set", "model.embedding_dim=16",
                  "--set", "data.min_count=1", "--set", "training.learning_rate=0.01", "--set", "model.dropout=0.0"]

# Two kinds of photo a tiny model can tell apart: red ones and blue ones.
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}
CAPTIONS = {"red": ["A red square.", "a red block", "red square"],
            "blue": ["A blue square.", "a blue block", "blue square"]}
TINY_CAPTION = ["--epochs", "25", "--batch-size", "16", "--image-size", "32", "--set", "model.units=32",
                "--set", "model.embedding_dim=16", "--set", "model.encoder_width=4", "--set", "model.dropout=0.0",
                "--set", "data.min_count=1", "--set", "training.learning_rate=0.01", "--set", "pretraining.epochs=2",
                "--set", "pretraining.min_photos=1", "--set", "decoding.beam_size=2"]


def write_corpus(path):
    path.write_text("\n".join(SENTENCES * 40) + "\n", encoding="utf-8")
    return path


def write_pairs(path):
    path.write_text("\n".join(f"{source}\t{target}" for source, target in PAIRS * 40) + "\n", encoding="utf-8")
    return path


def photo(colour, size=40, mode="RGB"):
    noise = np.random.default_rng(len(colour)).integers(0, 20, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(COLOURS[colour]) + noise, 0, 255).astype(np.uint8)).convert(mode)


def jpeg_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def write_flickr_layout(root):
    """A dataset in Flickr8k's layout: captions and split files loose, photos in a zip with one
    corrupt entry, and a captioned photo that does not exist."""
    folder = root / "flickr8k"
    folder.mkdir()
    names = {split: [f"{split}{i}_{colour}.jpg" for i in range(count) for colour in COLOURS]
             for split, count in (("train", 12), ("dev", 2), ("test", 2))}
    names["train"] += ["missing_red.jpg", "corrupt_red.jpg"]
    lines = [f"{name}#{k}\t{caption}" for split in names.values() for name in split
             for k, caption in enumerate(CAPTIONS[name.split("_")[1][:-4]])]
    (folder / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    for split, file_split in (("train", "train"), ("dev", "dev"), ("test", "test")):
        (folder / f"Flickr_8k.{file_split}Images.txt").write_text("\n".join(names[split]) + "\n")
    with zipfile.ZipFile(folder / "flickr8k_images_128.zip", "w") as archive:
        for split in names.values():
            for name in split:
                if name == "corrupt_red.jpg":
                    archive.writestr(f"flickr8k_images_128/{name}", b"\xff\xd8 not really a jpeg")
                elif name != "missing_red.jpg":
                    archive.writestr(f"flickr8k_images_128/{name}", jpeg_bytes(photo(name.split("_")[1][:-4])))
    return root
