"""Every registered task, built-in or plugin, against the contract in nnkit/task.py; the registry's
handling of plugins; and the shape of the code: no import circles, and shared code names no task."""

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from nnkit import registry
from nnkit.config import load_config, task_defaults
from nnkit.registry import load_task, task_names
from nnkit.task import Task

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", task_names())
def test_task_declares_what_the_contract_asks(name):
    task = load_task(name)
    assert isinstance(task, Task) and task.name == name
    assert task.description.strip() and "\n" not in task.description
    assert registry.TASKS[name][1] == task.description  # what `nnkit --help` lists without importing it
    assert isinstance(task.architectures, tuple) and task.architectures
    assert all(isinstance(architecture, str) for architecture in task.architectures)
    assert isinstance(task.data_layout, str) and task.data_layout.strip(), f"{name} declares no data_layout"
    assert task.monitor_mode in ("min", "max")
    # Its defaults are readable, pass the config's checks, and name an architecture it declares.
    config = load_config(name)
    task.check_config(config)
    assert config["model"]["architecture"] in task.architectures
    assert "training" in config and "seed" in config
    # Everything a generic caller uses is overridden or inherited, never missing.
    for method in ("load_data", "build_model", "compile_options", "evaluate", "format_report", "make_predictor",
                   "export_plan"):
        assert getattr(type(task), method) is not getattr(Task, method), f"{name} does not implement {method}"
    assert isinstance(task.commands(), list)
    # Its endpoints (its own, or the generic one) live under /v1/<name>/, predict among them.
    from nnkit.serving.app import Serving

    paths = {route.path for route in task.routes(Serving({})).routes}
    assert f"/v1/{name}/predict" in paths and all(path.startswith(f"/v1/{name}/") for path in paths)
    assert task.web_panel is None or Path(task.web_panel).is_file()


def test_every_task_has_a_distinct_description_in_the_registry():
    descriptions = [registry.TASKS[name][1] for name in task_names()]
    assert len(set(descriptions)) == len(descriptions)


def test_the_example_plugin_is_registered_through_its_entry_point():
    assert "sentiment" in task_names(), "pip install -e examples/nnkit-example-task (see .ci/run)"
    assert "sentiment" not in registry.built_in()
    task = load_task("sentiment")
    assert type(task).__module__ == "nnkit_example_sentiment.task"
    assert task_defaults("sentiment")["model"]["architecture"] == "average"  # its own YAML, in its package


class FakeEntryPoint(SimpleNamespace):
    def load(self):
        return self.loads()


def plugin(name, loads, value="some_package"):
    return FakeEntryPoint(name=name, value=value, loads=loads)


def failing_import():
    raise ImportError("No module named 'torchtext'\nmore lines of traceback")


def named_task(name):
    return type("Named", (Task,), {"name": name, "description": f"The {name} task."})()


def test_plugins_are_added_and_bad_ones_refused_with_one_line_each():
    found, refused = registry.plugins(taken=registry.built_in(), entry_points=[
        plugin("digits", lambda: named_task("digits")),  # a built-in's name
        plugin("broken", failing_import),
        plugin("notatask", lambda: SimpleNamespace(TASK="just text")),
        plugin("misnamed", lambda: named_task("other")),
        plugin("poems", lambda: SimpleNamespace(TASK=named_task("poems"))),  # a module exporting TASK
        plugin("poems", lambda: named_task("poems"), value="another_package"),  # a second one of that name
    ])
    assert list(found) == ["poems"] and found["poems"][1] == "The poems task."
    assert len(refused) == 5 and all("\n" not in message for message in refused)
    assert "'digits'" in refused[0] and "built-in" in refused[0]
    assert "failed to import: ImportError: No module named 'torchtext'" in refused[1]
    assert "is not an nnkit.task.Task named 'notatask'" in refused[2] and "'misnamed'" in refused[3]
    assert "another_package" in refused[4] and "plugin task already has that name" in refused[4]


def test_a_broken_plugin_is_one_warning_and_the_cli_still_lists_the_rest(capsys, monkeypatch):
    import importlib.metadata

    from conftest import run_in_process

    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [plugin("broken", failing_import, value="broken_package")])
    monkeypatch.setattr(registry, "TASKS", registry.Registry())
    monkeypatch.setattr("nnkit.cli.TASKS", registry.TASKS)
    done = run_in_process(capsys, "--help")
    assert done.returncode == 0 and "digits" in done.stdout and "broken" not in done.stdout
    assert done.stderr.strip().splitlines() == [
        "nnkit: warning: ignored task plugin 'broken' (broken_package): it failed to import: "
        "ImportError: No module named 'torchtext'"]


def test_a_model_of_a_task_not_installed_is_one_line(tmp_path):
    from nnkit.errors import NnkitError
    from nnkit.saving import load_model, save_model

    import keras

    inputs = keras.Input((2,))
    save_model(keras.Model(inputs, keras.layers.Dense(1)(inputs)), tmp_path, {"task": "poems"})
    with pytest.raises(NnkitError, match="holds a model of task 'poems', which is not installed"):
        load_model(tmp_path)


# --- the shape of the code ----------------------------------------------------------------

def modules():
    """{module name: file} of nnkit/ and apps/ (shipped as nnkit.apps)."""
    found = {}
    for base, prefix in ((ROOT / "nnkit", "nnkit"), (ROOT / "apps", "nnkit.apps")):
        for path in base.rglob("*.py"):
            parts = [part for part in path.relative_to(base).with_suffix("").parts if part != "__init__"]
            found[".".join([prefix, *parts])] = path
    return found


def imports(path):
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph():
    found = modules()
    return {name: {target for target in imports(path) if target in found and target != name}
            for name, path in found.items()}


def circles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_circles_are_found_where_there_are_some():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_import_circles_in_nnkit_or_the_apps():
    graph = import_graph()
    assert len(graph) > 50
    assert circles(graph) == []


def test_shared_code_names_no_task():
    graph = import_graph()
    offenders = {name: sorted(target for target in targets if target.startswith("nnkit.apps."))
                 for name, targets in graph.items() if not name.startswith("nnkit.apps")}
    assert {name: targets for name, targets in offenders.items() if targets} == {}
