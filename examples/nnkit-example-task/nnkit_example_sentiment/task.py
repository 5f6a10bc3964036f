"""Sentiment of short reviews: the words' embeddings, averaged (or max-pooled), then a softmax.

    nnkit sentiment train                       # on the sample this package ships
    nnkit sentiment train --data my_reviews/    # a reviews.tsv of label<TAB>text lines
    nnkit sentiment predict "A lovely film." "Dull and slow."

Heavy imports (Keras, NumPy, data.py) stay inside the methods: `nnkit --help` imports this module.
"""

from importlib import resources


from nnkit.config_rules import at_least, one_of
from nnkit.errors import UsageError
from nnkit.task import ExportArtifact, ExportPlan, Task


class SentimentTask(Task):
    name = "sentiment"
    description = "Sentiment of short reviews (example plugin task): averaged word embeddings."
    architectures = ("average", "max")
    data_layout = "reviews.tsv, one 'label<TAB>text' line per review"  # without --data: the sample shipped
    monitor = "val_accuracy"
    monitor_mode = "max"
    # Rules of its own keys (nnkit.config_rules has those every task shares: fractions, dropout ...).
    config_rules = {"model.architecture": one_of(architectures), "model.hidden_units": at_least(0),
                    "data.max_words": at_least(1)}

    def defaults_file(self):
        return resources.files("nnkit_example_sentiment").joinpath("sentiment.yaml")

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        from nnkit_example_sentiment.data import load_splits

        return load_splits(config, data_dir, self.data_layout)

    def build_model(self, config, info):
        import keras

        from nnkit_example_sentiment.layers import MaskedMaxPooling

        settings = config["model"]
        words = keras.Input(shape=(None,), dtype="int32", name="words")
        embedded = keras.layers.Embedding(len(info["words"]), settings["embedding_dim"], mask_zero=True)(words)
        pooled = (keras.layers.GlobalAveragePooling1D()(embedded) if settings["architecture"] == "average"
                  else MaskedMaxPooling()(embedded))
        hidden = keras.layers.Dropout(settings["dropout"], seed=config["seed"])(pooled)
        if settings["hidden_units"]:
            hidden = keras.layers.Dense(settings["hidden_units"], activation="relu")(hidden)
        outputs = keras.layers.Dense(len(info["classes"]), activation="softmax", name="probabilities")(hidden)
        return keras.Model(words, outputs, name=self.name)

    def compile_options(self, config):
        return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

    def evaluate(self, model, test, info):
        from nnkit.training.reports import classification_metrics

        words, labels = test
        probabilities = model.predict(words, verbose=0)
        return classification_metrics(labels, probabilities.argmax(axis=1), info["classes"])

    def format_report(self, metrics):
        from nnkit.training.reports import format_classification_report

        return format_classification_report(metrics)

    def make_predictor(self, model, metadata):
        return SentimentPredictor(self, model, metadata)

    def export_plan(self, model, metadata):
        from nnkit.export.graphs import named

        from nnkit_example_sentiment.data import encode

        info = metadata["data"]
        samples, _ = encode(["a lovely film", " ".join(info["words"][2:12]) or "film", "zyzzyva"], info)
        artifact = ExportArtifact("model", named(model, ["probabilities"]), {"words": samples},
                                  "words: (n, words) int32 ids of metadata.json data.words, 0-padded -> "
                                  "probabilities (n, classes), in the order of data.classes.")
        processing = {"tokenize": "NFKC, lower case, words as nnkit.text.words.tokenize finds them",
                      "words": "metadata.json data.words: id = position, 0 padding, 1 unknown",
                      "classes": info["classes"]}
        return ExportPlan([artifact], processing)


class SentimentPredictor:
    """A saved sentiment model that takes raw texts."""

    def __init__(self, task, model, metadata):
        self.task, self.model, self.info = task, model, metadata["data"]

    def predict(self, inputs, **unknown):
        """One dict per text: the label, its probability, and every class's probability."""
        from nnkit.models.prediction import predict_rows
        from nnkit.raw_inputs import no_other_options, text_list
        from nnkit_example_sentiment.data import encode

        no_other_options(unknown)
        texts = text_list(inputs)
        words, sentences = encode(texts, self.info)
        for index, sentence in enumerate(sentences):
            if not sentence:
                raise UsageError(f"inputs[{index}] has no words to read: {texts[index]!r}")
        probabilities = predict_rows(self.model, words)
        known = set(self.info["words"])
        return [{"text": text, "label": self.info["classes"][int(row.argmax())], "probability": float(row.max()),
                 "probabilities": dict(zip(self.info["classes"], map(float, row))),
                 "unknown_words": [word for word in words_of if word not in known]}
                for text, words_of, row in zip(texts, sentences, probabilities)]


TASK = SentimentTask()
