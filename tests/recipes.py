"""One recipe per registered task, for the shared harness (task_harness.py, run by test_tasks.py):
where its tiny trained model comes from, raw inputs and options to predict with, the request its
serving endpoint answers, and bad inputs with the one line each gets. A task without a recipe
fails tests/test_tasks.py: adding a task means adding its recipe here."""

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
DIGITS = [str(DATA / "digits" / name) for name in ("seven.png", "zero.jpg", "one_transparent.png")]
PHOTOS = [str(DATA / "compat" / "inputs" / name) for name in ("red.jpg", "blue.jpg")]

# The example plugin's tiny run (examples/nnkit-example-task), on the sample it ships; `max` pools with
# its own layer, which the fresh process of the harness only finds through the task's layers.py.
TINY_SENTIMENT = ["--epochs", "4", "--batch-size", "16", "--model", "max", "--set", "model.embedding_dim=8",
                  "--set", "model.hidden_units=8"]


@dataclass
class Recipe:
    # The session fixture (conftest.py) that trains the task's tiny model, or the `nnkit <task> train`
    # arguments that do (test_tasks.py trains it once a session).
    model: object
    inputs: list  # raw inputs as `nnkit <task> predict` and `Predictor.predict` take them
    options: dict  # predict's options in Python ...
    flags: list  # ... and the same as `nnkit <task> predict` flags
    request: object  # inputs -> the keyword arguments of a good POST /v1/<task>/predict (TestClient.post)
    bad_request: dict  # the keyword arguments of a request the endpoint refuses with a 4xx
    # tmp_path -> [(predict arguments, exit code, what the one line on stderr says)]
    refusals: object = lambda tmp_path: []
    evaluation_data: str | None = None  # the fixture of the `--data` evaluate needs, when the saved config's is not


def texts(extra=None):
    """The request of an endpoint that takes {"texts": [...]} (and the options in `extra`)."""
    return lambda inputs: {"json": {"texts": inputs, **(extra or {})}}


def uploads(fields=None):
    """The request of an endpoint that takes multipart image files in `images`."""
    def request(inputs):
        files = [("images", (Path(path).name, Path(path).read_bytes(), "application/octet-stream"))
                 for path in inputs]
        return {"files": files, "data": fields or {}}

    return request


def not_an_image(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    return [([tmp_path / "notes.txt"], 1, "not an image"), ([tmp_path / "absent.png"], 1, "no such file")]


NOT_JSON = {"content": b"{not json", "headers": {"content-type": "application/json"}}
NO_IMAGE = {"files": [("images", ("notes.txt", b"hello", "text/plain"))]}

RECIPES = {
    "digits": Recipe("trained_digits", DIGITS, {"top_k": 2}, ["--top-k", "2"], uploads({"top_k": "2"}), NO_IMAGE,
                     not_an_image),
    "xo": Recipe("trained_xo", DIGITS[:2], {"top_k": 3}, ["--top-k", "3"], uploads({"top_k": "3"}), NO_IMAGE,
                 not_an_image),
    "slots": Recipe("trained_slots", ["show me flights from Boston to Denver tomorrow", "zzyzx qwrtp 12345"], {}, [],
                    texts(), {"json": {"texts": []}},
                    lambda tmp_path: [([""], 2, "no words to tag"), ([" ?!... "], 2, "no words to tag")]),
    "lm": Recipe("trained_lm", ["the cat sat on", "zebra"], {"count": 3}, ["--count", "3"], texts({"count": 3}),
                 {"json": {"texts": ["the"], "count": 0}},
                 lambda tmp_path: [(["the cat", "--count", "0"], 2, "--count")]),
    "translate": Recipe("trained_translator", ["Ein Mann fährt Fahrrad.", "Ein 🚲 und Ωμέγα Hund."], {"beam_size": 2},
                        ["--beam-size", "2"], texts({"beam_size": 2}), {"json": {"texts": ["Hallo"], "beam_size": 0}},
                        lambda tmp_path: [(["  "], 2, "nothing to translate"),
                                          (["A man.", "--source", "en"], 2, "this model translates de to en")]),
    "caption": Recipe("trained_captioner", PHOTOS, {"beam_size": 2}, ["--beam-size", "2"],
                      uploads({"beam_size": "2"}), NO_IMAGE,
                      lambda tmp_path: [*not_an_image(tmp_path),
                                        ([PHOTOS[0], "--n-best", "3", "--beam-size", "2"], 2,
                                         "needs at least as many beams")],
                      evaluation_data="flickr_layout"),
    # A plugin task: the generic endpoint, {"inputs": [...], "options": {...}}.
    "sentiment": Recipe(TINY_SENTIMENT, ["What a lovely, moving film!", "Dull and awful."], {}, [],
                        lambda inputs: {"json": {"inputs": inputs}},
                        {"json": {"inputs": ["fine"], "options": {"top_k": 2}}},
                        lambda tmp_path: [(["  "], 2, "no words to read")]),
}
