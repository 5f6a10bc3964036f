"""Configs: `configs/<task>.yaml` defaults, an optional user YAML file, then `--set` overrides.

A config is a nested dict of plain values. Every key a user gives must already exist in the
task's defaults and have a compatible type, so a typo fails loudly instead of being ignored;
then every value must keep its key's rule (ranges, choices, null: nnkit.config_rules), before
any data is read or model built.
The defaults file may also hold a `search_space` section (used by `tune`); it is not part of
the config a model is trained with.
"""

import copy
import difflib

import yaml

from nnkit.errors import UsageError

SEARCH_SPACE_KEY = "search_space"


def _read_yaml(text, where):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise UsageError(f"{where}{line}: not valid YAML ({getattr(error, 'problem', error)})")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def task_defaults(task_name):
    """The task's full defaults file, search space included: a built-in task's configs/<name>.yaml,
    the YAML a plugin task ships in its package."""
    from nnkit.registry import load_task

    defaults = load_task(task_name).defaults_file()
    return _read_yaml(defaults.read_text("utf-8"), f"the defaults of task '{task_name}' ({defaults.name})")


def _coerce(key, value, default):
    """Return `value` converted to the type of `default`, or raise UsageError."""
    if default is None or value is None:
        return value
    expected = type(default)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise UsageError(
            f"config key '{key}' expects {expected.__name__}, got {value!r} ({type(value).__name__})"
        )
    return value


def _unknown_key(key, known):
    close = difflib.get_close_matches(key.split(".")[-1], known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(sorted(known))})"
    return UsageError(f"unknown config key '{key}'{hint}")


def merge(base, updates, prefix=""):
    """Merge `updates` into a copy of `base`, rejecting unknown keys and wrong types."""
    merged = copy.deepcopy(base)
    for key, value in updates.items():
        dotted = f"{prefix}{key}"
        if key not in merged:
            raise _unknown_key(dotted, merged.keys())
        if isinstance(merged[key], dict):
            if not isinstance(value, dict):
                raise UsageError(f"config key '{dotted}' is a section; set its keys, e.g. '{dotted}.<key>=...'")
            merged[key] = merge(merged[key], value, prefix=f"{dotted}.")
        else:
            merged[key] = _coerce(dotted, value, merged[key])
    return merged


def parse_override(text):
    """'training.epochs=5' -> {'training': {'epochs': 5}}; the value is read as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--set expects key=value, got '{text}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise UsageError(f"--set {key}: cannot read value '{raw}'")
    nested = value
    for part in reversed(key.split(".")):
        nested = {part: nested}
    return nested


def read_config_file(config_file):
    """A user's YAML config file (`--config`) as a mapping, search space included."""
    try:
        with open(config_file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise UsageError(f"cannot read config file '{config_file}': {error.strerror}")
    except UnicodeDecodeError as error:
        raise UsageError(f"config file '{config_file}' is not UTF-8 text (byte 0x{error.object[error.start]:02x} "
                         f"at offset {error.start})")
    return _read_yaml(text, config_file)


def load_config(task_name, config_file=None, overrides=(), options=None):
    """Defaults, then `config_file`, then `options` (from CLI flags), then `--set` overrides."""
    defaults = task_defaults(task_name)
    config = {key: value for key, value in defaults.items() if key != SEARCH_SPACE_KEY}
    if config_file:
        user = read_config_file(config_file)
        user.pop(SEARCH_SPACE_KEY, None)
        config = merge(config, user)
    for option in options or ():
        config = merge(config, option)
    for text in overrides:
        config = merge(config, parse_override(text))
    return validate(task_name, config, defaults)


def validate(task_name, config, defaults=None):
    """`config` if every value keeps its key's rule and the task's rules across keys
    (nnkit.config_rules); a config to train with, or a saved one that options changed."""
    from nnkit.config_rules import check
    from nnkit.registry import load_task

    check(load_task(task_name), config, defaults or task_defaults(task_name))
    return config
