"""Search spaces for `nnkit <task> tune`, read from the `search_space` section of a config.

The section mirrors the config: each leaf names a config key and says which values to try.

    search_space:
      model:
        architecture: {values: [cnn, vgg, resnet]}         # a choice
        width: {min: 16, max: 64, step: 16}                 # int range (the key's default is an int)
        dropout: {min: 0.0, max: 0.5, step: 0.1}            # float range
      training:
        learning_rate: {min: 0.0003, max: 0.01, sampling: log}
        optimizer: {values: [adam, sgd]}
        momentum: {min: 0.8, max: 0.99, when: {training.optimizer: sgd}}  # only tried with sgd
        batch_size: {values: [64, 128, 256]}

`when` makes a key conditional on earlier keys: a value, a list of values, or `{min: N}` /
`{max: N}` for an int range ("units of layer 3 only if layers >= 3"). Where a condition does
not hold, the key keeps its configured value. A user narrows or widens the space with
`--set search_space.model.width.max=32` or `--set 'search_space.model.units={values: [64, 128]}'`,
drops a key with `--set search_space.model.width=null`, or starts from an empty space with
`--set search_space=null`.
"""

import copy
from dataclasses import dataclass, field

from nnkit.config import SEARCH_SPACE_KEY, _coerce, parse_override, read_config_file, task_defaults
from nnkit.config_rules import Rule
from nnkit.errors import UsageError

SPEC_KEYS = {"values", "min", "max", "step", "sampling", "when", "default"}
SAMPLINGS = ("linear", "log", "reverse_log")


@dataclass
class Dimension:
    """One searched config key: a choice of `values`, or a `low`..`high` range."""

    key: str                     # dotted config key, also the hyperparameter's name
    kind: str                    # "choice" | "int" | "float"
    values: list = None
    low: float = None
    high: float = None
    step: float = None
    sampling: str = "linear"
    default: object = None
    conditions: list = field(default_factory=list)  # [(parent key, [parent values])]

    def describe(self):
        if self.kind == "choice":
            text = "{" + ", ".join(map(str, self.values)) + "}"
        else:
            text = f"{self.kind} {self.low}..{self.high}" + (f" step {self.step}" if self.step else "")
            text += f" ({self.sampling})" if self.sampling != "linear" else ""
        for parent, values in self.conditions:
            text += f" when {parent} in {values}"
        return f"{self.key}: {text}"


def merge_space(base, updates):
    """Merge `updates` into a copy of `base` (nested mappings); None removes a key."""
    merged = copy.deepcopy(base)
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_space(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_search_space(task_name, config_file=None, overrides=()):
    """The defaults' search space, then the config file's, then `--set search_space.*`."""
    space = task_defaults(task_name).get(SEARCH_SPACE_KEY) or {}
    if config_file:
        space = merge_space(space, read_config_file(config_file).get(SEARCH_SPACE_KEY) or {})
    for text in overrides:  # `--set search_space=null` clears the space, to build one from nothing
        value = parse_override(text)[SEARCH_SPACE_KEY]
        space = {} if value is None else merge_space(space, value)
    return space


def _leaves(space, config, prefix=""):
    """(dotted key, spec, configured value) for every leaf of `space`, checked against `config`."""
    if not isinstance(space, dict):
        raise UsageError(f"search_space{'.' + prefix[:-1] if prefix else ''} must be a mapping")
    for key, spec in space.items():
        dotted = f"{prefix}{key}"
        if key not in config:
            raise UsageError(f"search_space.{dotted}: there is no config key '{dotted}'")
        if isinstance(config[key], dict):
            if spec is not None:
                yield from _leaves(spec, config[key], f"{dotted}.")
            continue
        if spec is not None:
            yield dotted, spec, config[key]


def parse_search_space(space, config, rules=None):
    """Check `space` against `config` and return its Dimensions, parents before children. Each
    value a dimension lists, and each end of a range, must keep its key's rule (`rules`: dotted
    key -> nnkit.config_rules.Rule, see `rules_of`), as the config's own value must."""
    rules, dimensions = rules or {}, {}
    for key, spec, configured in _leaves(space, config):
        where = f"search_space.{key}"
        if not isinstance(spec, dict) or not spec:
            raise UsageError(f"{where}: expected a mapping such as {{values: [...]}} or {{min: ..., max: ...}}, got {spec!r}")
        unknown = set(spec) - SPEC_KEYS
        if unknown:
            raise UsageError(f"{where}: unknown entry '{sorted(unknown)[0]}' (known: {', '.join(sorted(SPEC_KEYS))})")
        dimension = _dimension(key, spec, configured, where, rules.get(key, Rule()))
        dimension.conditions = [_condition(parent, wanted, dimensions, where)
                                for parent, wanted in (spec.get("when") or {}).items()]
        dimensions[key] = dimension
    return list(dimensions.values())


def _dimension(key, spec, configured, where, rule):
    def typed(value, name):  # the config key's own type and rule, so a string for an int fails here
        value = _coerce(f"{where}.{name}", value, configured)
        rule.check(f"{where}.{name}", value, configured)
        return value

    if "values" in spec:
        if set(spec) & {"min", "max", "step", "sampling"}:
            raise UsageError(f"{where}: give either values or min/max, not both")
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise UsageError(f"{where}.values: expected a non-empty list, got {values!r}")
        values = [typed(value, "values") for value in values]
        if len(set(map(repr, values))) != len(values):
            raise UsageError(f"{where}.values: repeated values in {values}")
        default = typed(spec.get("default", configured if configured in values else values[0]), "default")
        if default not in values:
            raise UsageError(f"{where}.default: {default!r} is not one of {values}")
        return Dimension(key, "choice", values=values, default=default)
    if "min" not in spec or "max" not in spec:
        raise UsageError(f"{where}: a range needs both min and max (or give values: [...])")
    low, high = spec["min"], spec["max"]
    for name, value in (("min", low), ("max", high), ("step", spec.get("step"))):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UsageError(f"{where}.{name}: expected a number, got {value!r}")
    for name, value in (("min", low), ("max", high)):  # a rule's range holds between its ends
        rule.check(f"{where}.{name}", value, configured)
    is_int = isinstance(configured, int) and not isinstance(configured, bool) or (
        configured is None and all(isinstance(value, int) for value in (low, high)))
    if isinstance(configured, (bool, str, list)):
        raise UsageError(f"{where}: '{key}' is not numeric; give values: [...] instead of a range")
    if low >= high:
        raise UsageError(f"{where}: min ({low}) must be below max ({high})")
    sampling = spec.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        raise UsageError(f"{where}.sampling: expected one of {', '.join(SAMPLINGS)}, got '{sampling}'")
    if sampling != "linear" and low <= 0:
        raise UsageError(f"{where}: {sampling} sampling needs min > 0, got {low}")
    if is_int and not (isinstance(low, int) and isinstance(high, int)):
        raise UsageError(f"{where}: '{key}' is an int; min and max must be ints")
    step = spec.get("step")
    if step is not None and step <= 0:
        raise UsageError(f"{where}.step: must be positive, got {step}")
    default = spec.get("default", configured if configured is not None and low <= configured <= high else low)
    return Dimension(key, "int" if is_int else "float", low=low, high=high, step=step, sampling=sampling,
                     default=default)


def _condition(parent, wanted, dimensions, where):
    """(parent key, the parent values under which the child is tried)."""
    if parent not in dimensions:
        raise UsageError(f"{where}.when: '{parent}' must be a search-space key listed before this one")
    dimension = dimensions[parent]
    if dimension.kind == "choice":
        candidates = dimension.values
    elif dimension.kind == "int":
        candidates = list(range(dimension.low, dimension.high + 1, dimension.step or 1))
    else:
        raise UsageError(f"{where}.when: cannot depend on the float range '{parent}'")
    if isinstance(wanted, dict):  # {min: 3} / {max: 2} over an int range
        if set(wanted) - {"min", "max"} or dimension.kind != "int":
            raise UsageError(f"{where}.when.{parent}: {{min: N}} / {{max: N}} only work on an int range")
        values = [value for value in candidates if wanted.get("min", value) <= value <= wanted.get("max", value)]
    else:
        values = wanted if isinstance(wanted, list) else [wanted]
        missing = [value for value in values if value not in candidates]
        if missing:
            raise UsageError(f"{where}.when.{parent}: {missing[0]!r} is not a value '{parent}' can take")
    if not values:
        raise UsageError(f"{where}.when.{parent}: no value of '{parent}' satisfies {wanted}")
    return parent, values


def define(hyperparameters, dimensions):
    """Register `dimensions` on a keras_tuner.HyperParameters, conditions as conditional scopes."""
    import contextlib

    for dimension in dimensions:
        with contextlib.ExitStack() as scopes:
            for parent, values in dimension.conditions:
                scopes.enter_context(hyperparameters.conditional_scope(parent, values))
            if dimension.kind == "choice":
                hyperparameters.Choice(dimension.key, dimension.values, default=dimension.default)
            elif dimension.kind == "int":
                hyperparameters.Int(dimension.key, dimension.low, dimension.high, step=dimension.step,
                                    sampling=dimension.sampling, default=dimension.default)
            else:
                hyperparameters.Float(dimension.key, dimension.low, dimension.high, step=dimension.step,
                                      sampling=dimension.sampling, default=dimension.default)
    return hyperparameters


def active_values(hyperparameters, dimensions):
    """{dotted key: value} of the dimensions whose conditions hold in `hyperparameters` (a key
    that has no value yet, as before an oracle fills it in, has its default)."""
    return {dimension.key: _as_configured(dimension, hyperparameters.values.get(dimension.key, dimension.default))
            for dimension in dimensions if hyperparameters.is_active(dimension.key)}


def _as_configured(dimension, value):
    """KerasTuner hands booleans back as 0/1 and float steps as 0.30000000000000004."""
    if dimension.kind == "choice":
        return next((choice for choice in dimension.values if choice == value and type(choice) is type(value)),
                    next((choice for choice in dimension.values if choice == value), value))
    if dimension.kind == "float":
        return float(f"{value:.10g}")
    return value


def apply_values(config, values):
    """A copy of `config` with each dotted key in `values` set."""
    config = copy.deepcopy(config)
    for key, value in values.items():
        *sections, leaf = key.split(".")
        target = config
        for section in sections:
            target = target[section]
        target[leaf] = value
    return config
