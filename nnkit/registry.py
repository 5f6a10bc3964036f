"""The task registry: task name -> where its Task lives, and a one-line description.

Built-in tasks are the folders of apps/ (shipped as nnkit.apps). Other packages add tasks through
the entry point group `nnkit.tasks` (name = the task's name, value = a module that exports
`TASK`, or `module:attribute`). Kept free of heavy imports so that `nnkit --help` lists the tasks
without loading TensorFlow or the built-in apps; a plugin's module is imported once, on first use
of the registry, for its description (a plugin keeps its own heavy imports lazy, as apps do).
"""

import sys
from collections.abc import Mapping
from functools import cached_property

ENTRY_POINT_GROUP = "nnkit.tasks"


def built_in():
    """{name: (module, description)} of the task folders of apps/ (nnkit.apps.<name>), each
    described by the first line of its package's docstring, read here without importing it."""
    import ast
    import importlib.util
    import pkgutil

    import nnkit.apps

    found = {}
    for module in pkgutil.iter_modules(nnkit.apps.__path__):
        if module.ispkg:
            origin = importlib.util.find_spec(f"nnkit.apps.{module.name}").origin
            with open(origin, encoding="utf-8") as source:
                docstring = ast.get_docstring(ast.parse(source.read())) or ""
            found[module.name] = (f"nnkit.apps.{module.name}", docstring.split("\n")[0])
    return dict(sorted(found.items()))


def task_of(loaded):
    """The Task an entry point names: a module's `TASK`, or the object itself."""
    return getattr(loaded, "TASK", loaded)


def plugins(entry_points, taken=()):
    """{name: (Task, description)} of the tasks `entry_points` add, and the warnings for those
    refused: a name taken by a built-in task or an earlier plugin, a module that fails to import,
    an object that is not a Task of that name. A broken plugin must not break `nnkit`."""
    from nnkit.task import Task

    found, refused = {}, []
    for entry in entry_points:
        where = f"task plugin '{entry.name}' ({entry.value})"
        if entry.name in taken or entry.name in found:
            refused.append(f"ignored {where}: a {'built-in' if entry.name in taken else 'plugin'} "
                           "task already has that name")
            continue
        try:
            task = task_of(entry.load())
        except Exception as error:  # whatever the plugin's import raises
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            refused.append(f"ignored {where}: it failed to import: {type(error).__name__}: {first}")
            continue
        if not isinstance(task, Task) or task.name != entry.name:
            refused.append(f"ignored {where}: it is not an nnkit.task.Task named '{entry.name}'")
            continue
        found[entry.name] = (task, task.description)
    return found, refused


class Registry(Mapping):
    """name -> (a module name or the Task itself, description), built-ins first; plugins are
    looked up on first use, once per process, and their refusals printed then."""

    @cached_property
    def entries(self):
        from importlib.metadata import entry_points

        tasks = built_in()
        found, refused = plugins(entry_points(group=ENTRY_POINT_GROUP), taken=tasks)
        for message in refused:
            print(f"nnkit: warning: {message}", file=sys.stderr, flush=True)
        return {**tasks, **found}

    def __getitem__(self, name):
        return self.entries[name]

    def __iter__(self):
        return iter(self.entries)

    def __len__(self):
        return len(self.entries)


TASKS = Registry()


def task_names():
    return sorted(TASKS)


def load_task(name):
    """The Task instance of `name`: a built-in's app module is imported now."""
    import importlib

    from nnkit.errors import UsageError

    if name not in TASKS:
        raise UsageError(f"unknown task '{name}' (known: {', '.join(task_names())})")
    where = TASKS[name][0]
    return importlib.import_module(where).TASK if isinstance(where, str) else where


def import_task_layers(name):
    """Import the task's own `layers` module, beside its Task (apps/<task>/layers.py, a plugin's
    <package>/layers.py), if it has one: its custom layers register themselves with Keras then,
    which must happen before a saved model is read. Kept out of the Task's module so that
    listing the tasks imports no Keras."""
    load_task(name).own_module("layers")
