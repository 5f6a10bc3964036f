"""`nnkit serve`: saved models behind a JSON HTTP API, and the web page that uses it.

Every model under the models directory is loaded once, at start-up (Keras safe mode: a saved
model cannot run code of its own). Requests carry inputs only, never a path on the server;
`?model=NAME` picks a loaded model by its directory name. Each model has one worker thread
that batches the requests waiting for it (see batches.py). A task's endpoints are its own
(`Task.routes`, built with the `Serving` helpers here), or the generic POST /v1/<task>/predict;
its web panel is its own too (`Task.web_panel`), or the page's generic one. Nothing here names
a task. Every error, whatever raised it, answers `{"error": {"status": ..., "message": "one line"}}`.
Around the routes: request counting for /metrics (metrics.py), API keys (auth.py) and the body
limits (inputs.py), in that order from the outside; connections are guarded below the app, in
uvicorn's protocol (connections.py).
"""

import inspect
import json
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from nnkit.serving import inputs as inputs
from nnkit.errors import NnkitError
from nnkit.registry import TASKS, load_task
from nnkit.saving import MODEL_FILE
from nnkit.serving.auth import RequireKey
from nnkit.serving.batches import MAX_QUEUE, TIME_LIMIT_S, ModelBusy, ModelWorker
from nnkit.serving.metrics import SERVED_KEY, CountRequests, Metrics

DEFAULT_MAX_BODY_BYTES = 10 * 2**20
RETRY_AFTER_S = 1  # a model's queue drains within a few batches
WEB_DIRECTORY = Path(__file__).resolve().parent / "web"


@dataclass
class ServedModel:
    name: str
    task: str
    metadata: dict
    predictor: object
    worker: ModelWorker

    def describe(self):
        """What /v1/models tells about the model: nothing about the server's files."""
        metadata = self.metadata
        return {"name": self.name, "task": self.task,
                "architecture": metadata.get("config", {}).get("model", {}).get("architecture"),
                "created": metadata.get("created"), "nnkit_version": metadata.get("versions", {}).get("nnkit"),
                "metrics": metadata.get("metrics", {}).get("test", {})}


def load_models(models_dir, time_limit=TIME_LIMIT_S, max_queue=MAX_QUEUE, runtime="auto"):
    """{name: ServedModel} of every saved model directly under `models_dir` (or `models_dir`
    itself, when it is one), run by `runtime` (nnkit.saving.open_predictor). A model that fails
    to load is one line on stderr, and skipped."""
    from nnkit.saving import open_predictor

    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise NnkitError(f"no models directory '{models_dir}' (train a model first, or pass --models DIR)")
    found = [models_dir] if (models_dir / MODEL_FILE).is_file() else sorted(
        path for path in models_dir.iterdir() if (path / MODEL_FILE).is_file())
    models = {}
    for directory in found:
        try:
            # ONNX Runtime, or Keras in safe mode: no code runs from the files.
            predictor, metadata = open_predictor(directory, runtime=runtime)
        except Exception as error:  # a damaged or foreign model must not stop the others
            print(f"nnkit: warning: skipped '{directory}': {one_line(error, limit=None)}", file=sys.stderr, flush=True)
            continue
        models[directory.name] = ServedModel(directory.name, metadata["task"], metadata, predictor,
                                             ModelWorker(predictor, directory.name, time_limit=time_limit,
                                                         max_queue=max_queue))
    if not models:
        raise NnkitError(f"no model to serve in '{models_dir}': it needs subdirectories holding a {MODEL_FILE} "
                         "(as `nnkit <task> train` writes them)")
    return models


def one_line(error, limit=300):
    text = " ".join(str(error).split()) or type(error).__name__
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


def pick_model(models, task, name):
    if name is not None:
        served = models.get(name)
        if served is None or served.task != task:
            loaded = ", ".join(m.name for m in models.values() if m.task == task) or "none"
            raise HTTPException(404, f"no {task} model named '{name}' is loaded ({task} models: {loaded})")
        return served
    candidates = [served for served in models.values() if served.task == task]
    if not candidates:
        raise HTTPException(404, f"no {task} model is loaded (loaded: {', '.join(sorted(models))})")
    if task in models and models[task].task == task:
        return models[task]
    if len(candidates) > 1:
        raise HTTPException(400, f"{len(candidates)} {task} models are loaded "
                                 f"({', '.join(m.name for m in candidates)}): choose one with ?model=NAME")
    return candidates[0]


def answer(served, predictions, key="predictions"):
    """A task endpoint's answer: {"task", "model", key: the predictions}. JSONResponse directly:
    the results are plain JSON types, no encoder pass needed."""
    return JSONResponse({"task": served.task, "model": served.name, key: predictions})


def predict_with(predictor, inputs, options):
    """The generic endpoint's work, on the model's worker thread. `options` is JSON text, so
    that requests with equal options (of any JSON type) merge into one batch."""
    return predictor.predict(inputs, **json.loads(options))


class Serving:
    """What a task builds its endpoints with (`Task.routes(serving)`): the loaded models, the
    shared request checks of nnkit.serving.inputs (`serving.inputs`), `answer`, and the generic
    routes. A model's work runs on its worker thread: `await served.worker.run(f, items, **options)`,
    f a module-level function(predictor, items, **options) -> one result per item, so that
    requests asking the same merge into one batch."""

    inputs = inputs
    answer = staticmethod(answer)

    def __init__(self, models):
        self.models = models

    def model_for(self, task):
        """A FastAPI dependency: the loaded model of the task `task` (a name) that `?model=` picks."""

        async def dependency(request: Request, model: str | None = Query(None, description="A loaded model's name")):
            served = pick_model(self.models, task, model)
            setattr(request.state, SERVED_KEY, served)  # the model and task labels of /metrics
            return served

        return dependency

    def generic_routes(self, task):
        """POST /v1/<task>/predict, JSON {"inputs": [...], "options": {...}} -> {"task", "model",
        "predictions"}: `Predictor.predict(inputs, **options)` of the task's model."""
        router = APIRouter()

        @router.post(f"/v1/{task.name}/predict", name=f"{task.name}_predict")
        async def predict(body: inputs.PredictRequest, served=Depends(self.model_for(task.name)),
                          _=Depends(inputs.require_json)):
            try:  # options the predictor's signature cannot take are the client's mistake, not a 500
                inspect.signature(served.predictor.predict).bind(body.inputs, **body.options)
            except TypeError as error:
                raise HTTPException(422, f"options: {error}")
            inputs.within_budget([item for item in body.inputs if isinstance(item, str)])
            options = json.dumps(body.options, sort_keys=True)
            return answer(served, await served.worker.run(predict_with, body.inputs, options=options))

        return router


def loaded_tasks(models):
    """The Task of every task that has a loaded model."""
    return [load_task(name) for name in dict.fromkeys(served.task for served in models.values())]


def mount_tasks(app, tasks, serving):
    """Mount the routes of `tasks`; {task name: its actions, as the mounted routes say}."""
    actions = {}
    for task in tasks:
        router = task.routes(serving)
        prefix = f"/v1/{task.name}/"
        actions[task.name] = [route.path[len(prefix):] for route in router.routes if route.path.startswith(prefix)]
        app.include_router(router)
    return actions


def create_app(models_dir, max_body_bytes=DEFAULT_MAX_BODY_BYTES, time_limit=TIME_LIMIT_S, max_queue=MAX_QUEUE,
               api_keys=(), runtime="auto"):
    """The FastAPI app serving every model under `models_dir` (see `load_models`); a request
    waits at most `time_limit` seconds for its model, and is refused when `max_queue` already
    wait for it (both 503); with `api_keys`, the API needs one of them (see auth.py)."""
    models = load_models(models_dir, time_limit, max_queue, runtime)

    @asynccontextmanager
    async def lifespan(app):
        yield
        for served in models.values():
            served.worker.close()

    # No /docs: Swagger UI would load from a CDN, and the server works offline.
    app = FastAPI(title="nnkit", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.models = models
    app.state.metrics = metrics = Metrics(models)
    app.add_middleware(inputs.BodyLimit, max_bytes=max_body_bytes)  # the last added runs first
    if api_keys:
        app.add_middleware(RequireKey, keys=tuple(api_keys))
    app.add_middleware(CountRequests, metrics=metrics)
    add_error_handlers(app)

    @app.api_route("/health", methods=["GET", "HEAD"])
    async def health():
        return {"status": "ok", "models": len(models)}

    @app.api_route("/metrics", methods=["GET", "HEAD"], include_in_schema=False)
    async def prometheus_metrics():
        return metrics.page()

    @app.get("/v1/models")
    async def list_models():
        return {"models": [served.describe() for served in models.values()]}

    tasks = loaded_tasks(models)
    actions = mount_tasks(app, tasks, Serving(models))
    panels = {task.name: Path(task.web_panel) for task in tasks if task.web_panel is not None}

    @app.get("/v1/tasks")
    async def list_tasks():
        """Every known task, whether a model of it is loaded, and where the page finds its panel."""
        return {"tasks": [{"name": name, "description": TASKS[name][1], "loaded": name in actions,
                           "actions": actions.get(name, []),
                           "panel": f"/panels/{name}.js" if name in panels else None} for name in TASKS]}

    @app.post("/v1/{task}/{action}")
    async def unknown_endpoint(task: str, action: str):
        if task not in TASKS:
            raise HTTPException(404, f"unknown task '{task}' (known: {', '.join(sorted(TASKS))})")
        if task not in actions:
            pick_model(models, task, None)  # says that no model of the task is loaded
        raise HTTPException(404, f"no endpoint /v1/{task}/{action} ({task} has {' and '.join(actions[task])})")

    @app.get("/panels/{task}.js", include_in_schema=False)
    async def web_panel(task: str):
        panel = panels.get(task)
        if panel is None or not panel.is_file():
            raise HTTPException(404, f"no web panel for '{task}' (the page shows its generic one)")
        return FileResponse(panel, media_type="text/javascript")

    @app.get("/", include_in_schema=False)
    async def web_page():
        page = WEB_DIRECTORY / "index.html"
        if not page.is_file():
            raise HTTPException(404, "the web page is not installed (nnkit/serving/web/index.html is missing)")
        return FileResponse(page)

    app.mount("/static", StaticFiles(directory=WEB_DIRECTORY), name="static")
    return app


def add_error_handlers(app):
    """Every error as {"error": {"status", "message"}}: validation, HTTP, nnkit's, unexpected."""

    def error(status, message):
        return JSONResponse(inputs.error_body(status, message), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exception):
        return error(exception.status_code, str(exception.detail))

    @app.exception_handler(ModelBusy)
    async def model_busy(request, exception):  # a full queue, or no answer in time: worth a retry
        busy = error(503, str(exception))
        busy.headers["Retry-After"] = str(RETRY_AFTER_S)
        return busy

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exception):
        return error(422, "; ".join(describe_validation(problem) for problem in exception.errors()))

    @app.exception_handler(NnkitError)
    async def nnkit_error(request, exception):
        return error(400, one_line(exception))

    @app.exception_handler(Exception)
    async def unexpected_error(request, exception):
        # Starlette logs the traceback after this answer is sent; the server carries on.
        return error(500, f"internal error: {type(exception).__name__}: {one_line(exception)}")


def describe_validation(problem):
    """'texts[2]: Input should be a valid string' from one of pydantic's error dicts."""
    if problem.get("type") == "json_invalid":
        return f"the body is not valid JSON ({problem.get('ctx', {}).get('error', 'decode error')})"
    place = ""
    for part in problem.get("loc", ())[1:]:  # [0] is "body", "query" ...
        place += f"[{part}]" if isinstance(part, int) else f".{part}" if place else str(part)
    message = problem.get("msg", "invalid")
    if problem.get("type") == "missing" and problem.get("loc", ("",))[0] == "body" and not place:
        message = "the body is missing"
    return f"{place}: {message}" if place else message
