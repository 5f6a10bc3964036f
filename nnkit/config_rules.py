"""What a config value may be beyond its type: a rule per dotted key, checked before any work.

The defaults give each key its type (nnkit.config checks it); a `Rule` adds a range, a set of
choices, whether null is allowed, and the type of a key whose default is null. The keys every
task shares (seed, training.*, data.*_limit ...) have their rules here; a task declares its own
keys' rules in `Task.config_rules` (the same shape; a task's rule for a shared key wins) and
checks what involves several keys in `Task.check_config`. `check` runs all of them on the whole
effective config, so a bad value is one line naming the key, the value and what is allowed,
before any data is read or model built.
"""

import math
from dataclasses import dataclass

from nnkit.errors import UsageError
from nnkit.training import OPTIMIZERS, SCHEDULES


@dataclass(frozen=True)
class Rule:
    """What one key's value may be; Rule() allows any value of the default's type."""

    low: float = None
    high: float = None
    low_open: bool = False  # the bound itself is not allowed
    high_open: bool = False
    choices: tuple = None
    nullable: bool = False  # null is allowed (it always is where the default is null)
    kind: type = None  # the type of a key whose default is null, or of a list's items

    def allowed(self):
        """What the rule allows, in words ("" for a rule that only says a type)."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'above' if self.low_open else 'at least'} {self.low}"
        if self.high is not None:
            return f"{'below' if self.high_open else 'at most'} {self.high}"
        return ""

    def holds(self, value):
        if self.choices is not None:
            return value in self.choices
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, key, value, default=None):
        """Raise UsageError, naming `key`, unless `value` keeps this rule (None: see `nullable`)."""
        if value is None:
            if default is None or self.nullable:
                return
            allowed = self.allowed()
            raise UsageError(f"config key '{key}' cannot be null (expects {type(default).__name__}"
                             f"{', ' + allowed if allowed else ''})")
        listed = isinstance(default, list)  # then the rule is about each item
        for item in value if listed else [value]:
            kind = self.kind or (float if self.low is not None or self.high is not None else None)
            if kind and not _is_a(item, kind):
                raise UsageError(f"config key '{key}' expects {kind.__name__}{' items' if listed else ''}, got {item!r}")
            if isinstance(item, float) and not math.isfinite(item):  # NaN would pass every comparison
                raise UsageError(f"config key '{key}' must be a finite number, got {item!r}")
            if not isinstance(item, (list, bool)) and not self.holds(item):
                raise UsageError(f"config key '{key}' must be {self.allowed()}, got {item!r}")


def _is_a(value, kind):
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def at_least(low, **options):
    return Rule(low=low, **options)


def above(low, **options):
    return Rule(low=low, low_open=True, **options)


def within(low, high, low_open=False, high_open=False, **options):
    return Rule(low=low, high=high, low_open=low_open, high_open=high_open, **options)


def one_of(choices, **options):
    return Rule(choices=tuple(choices), **options)


FRACTION = within(0, 1, high_open=True)  # [0, 1): a share held out, a dropout rate
LIMIT = at_least(1, kind=int)  # null: everything

SHARED_RULES = {
    "seed": at_least(0),
    "data.train_limit": LIMIT,
    "data.test_limit": LIMIT,
    "data.validation_fraction": FRACTION,
    "data.test_fraction": FRACTION,
    "data.min_count": at_least(1),
    "data.max_vocabulary": at_least(1),
    "data.max_length": at_least(1),
    "model.layers": at_least(1),
    "model.units": at_least(1),
    "model.embedding_dim": at_least(1),
    "model.dropout": FRACTION,
    "training.epochs": at_least(1),
    "training.batch_size": at_least(1),
    "training.optimizer": one_of(OPTIMIZERS),
    "training.momentum": FRACTION,
    "training.learning_rate": above(0),
    "training.weight_decay": at_least(0),
    "training.schedule": one_of(SCHEDULES),
    "training.plateau_factor": within(0, 1, low_open=True, high_open=True),
    "training.plateau_patience": at_least(0),
    "training.warmup_epochs": at_least(0),
    "training.clipnorm": above(0, nullable=True, kind=float),  # null: no clipping
    "training.global_clipnorm": above(0, nullable=True, kind=float),
    "training.early_stopping_patience": at_least(0),
}


def rules_of(task):
    """{dotted key: Rule} for `task`: the shared rules, then its own."""
    return {**SHARED_RULES, **task.config_rules}


def leaves(config, prefix=""):
    """(dotted key, value) for every leaf of a nested config."""
    for key, value in config.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def check(task, config, defaults):
    """Check every leaf of `config` against its rule and the null-ness of its default in
    `defaults`, then the task's rules across keys (`Task.check_config`)."""
    rules, default_of = rules_of(task), dict(leaves(defaults))
    for key, value in leaves(config):
        rules.get(key, Rule()).check(key, value, default_of.get(key))
    task.check_config(config)
