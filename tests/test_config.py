import pytest

from nnkit.config import load_config, merge, parse_override, task_defaults, validate
from nnkit.config_rules import Rule, above, at_least, leaves, one_of, within
from nnkit.errors import UsageError
from nnkit.registry import load_task, task_names


def test_defaults_exclude_search_space():
    assert "search_space" in task_defaults("digits")
    config = load_config("digits")
    assert "search_space" not in config
    assert config["model"]["architecture"] == "cnn"


def test_precedence_file_then_flags_then_set(tmp_path):
    user = tmp_path / "user.yaml"
    user.write_text("training:\n  epochs: 3\n  batch_size: 64\n")
    config = load_config("digits", user, overrides=["training.batch_size=32"],
                         options=[{"training": {"epochs": 5}}])
    assert config["training"]["epochs"] == 5
    assert config["training"]["batch_size"] == 32


def test_set_parses_yaml_values():
    assert parse_override("training.learning_rate=0.5") == {"training": {"learning_rate": 0.5}}
    assert parse_override("model.batch_norm=false") == {"model": {"batch_norm": False}}
    assert parse_override("training.clipnorm=") == {"training": {"clipnorm": None}}


def test_float_key_accepts_int_and_exponent_and_keeps_float():
    config = load_config("digits", overrides=["training.learning_rate=1"])
    assert config["training"]["learning_rate"] == 1.0 and isinstance(config["training"]["learning_rate"], float)
    # YAML 1.1 reads 1e-3 (no dot) as a string; a float key takes it as the number
    assert load_config("digits", overrides=["training.learning_rate=1e-3"])["training"]["learning_rate"] == 0.001
    with pytest.raises(UsageError, match="expects float"):
        load_config("digits", overrides=["training.learning_rate=fast"])


@pytest.mark.parametrize("override, message", [
    ("model.widht=3", "unknown config key 'model.widht'; did you mean 'width'?"),
    ("training.epochs=abc", "expects int"),
    ("training.epochs=2.5", "expects int"),
    ("model.batch_norm=3", "expects bool"),
    ("training=3", "is a section"),
    ("nonsense", "expects key=value"),
    ("model.width=[", "cannot read value"),
])
def test_bad_overrides_are_rejected(override, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("?", r"\?")):
        load_config("digits", overrides=[override])


def test_nullable_key_accepts_a_number():
    assert load_config("digits", overrides=["training.clipnorm=1.5"])["training"]["clipnorm"] == 1.5


def test_config_file_errors(tmp_path):
    with pytest.raises(UsageError, match="cannot read config file"):
        load_config("digits", tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [1, 2\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_config("digits", bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("optimiser: sgd\n")
    with pytest.raises(UsageError, match="unknown config key 'optimiser'"):
        load_config("digits", unknown)


def test_merge_does_not_modify_its_input():
    base = {"a": {"b": 1}}
    merged = merge(base, {"a": {"b": 2}})
    assert base == {"a": {"b": 1}} and merged == {"a": {"b": 2}}


def test_optimizer_follows_momentum_and_both_clipping_keys():
    import keras

    from nnkit.training.run import make_optimizer

    training = load_config("lm")["training"]  # plain SGD, clipped by the global norm
    optimizer = make_optimizer(training, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == 0 and optimizer.global_clipnorm == 0.25 and optimizer.clipnorm is None
    optimizer = make_optimizer({**training, "momentum": 0.9, "global_clipnorm": None, "clipnorm": 1.0}, 10)
    assert optimizer.momentum == 0.9 and optimizer.nesterov
    assert optimizer.clipnorm == 1.0 and optimizer.global_clipnorm is None


@pytest.mark.parametrize("task_name", task_names())
def test_every_rule_a_task_declares_names_one_of_its_keys(task_name):
    task = load_task(task_name)
    keys = dict(leaves({k: v for k, v in task_defaults(task_name).items() if k != "search_space"}))
    assert not [key for key in task.config_rules if key not in keys]
    assert all(isinstance(rule, Rule) for rule in task.config_rules.values())


def test_null_only_where_the_default_is_null_or_the_rule_allows_it():
    config = load_config("translate", overrides=["data.train_limit=null", "training.global_clipnorm=null"])
    assert config["data"]["train_limit"] is None and config["training"]["global_clipnorm"] is None
    with pytest.raises(UsageError, match="config key 'training.epochs' cannot be null"):
        load_config("translate", overrides=["training.epochs=null"])
    with pytest.raises(UsageError, match="config key 'data.train_limit' expects int, got 'many'"):
        load_config("translate", overrides=["data.train_limit=many"])  # a null default has a rule for its type


def test_a_saved_config_that_options_changed_is_checked_too():
    saved = load_config("digits")
    assert validate("digits", saved) is saved
    with pytest.raises(UsageError, match="config key 'data.source' must be mnist or tfds:NAME"):
        validate("digits", merge(saved, {"data": {"source": "tfds:"}}))  # what `evaluate --data tfds:` gives


def test_rules_in_words():
    assert at_least(1).allowed() == "at least 1" and above(0).allowed() == "above 0"
    assert within(0, 1, high_open=True).allowed() == "in [0, 1)" and one_of(["a", "b"]).allowed() == "one of a, b"
    with pytest.raises(UsageError, match=r"config key 'x' must be in \(0, 0.5\), got 0.5"):
        within(0, 0.5, low_open=True, high_open=True).check("x", 0.5, 0.1)
