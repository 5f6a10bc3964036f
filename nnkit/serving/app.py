"""`nnkit serve`: saved models behind a JSON HTTP API, and the web page that uses it.

Every model under the models directory is loaded once, at start-up (Keras safe mode: a saved
model cannot run code of its own). Requests carry inputs only, never a path on the server;
`?model=NAME` picks a loaded model by its directory name. Each model has one worker thread
that batches the requests waiting for it (see serving_batches.py). Every error, whatever
raised it, answers `{"error": {"status": ..., "message": "one line"}}`.
"""

import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from nnkit.serving import inputs as inputs
from nnkit.errors import NnkitError
from nnkit.registry import TASKS
from nnkit.saving import MODEL_FILE
from nnkit.serving.batches import ModelWorker

DEFAULT_MAX_BODY_BYTES = 10 * 2**20
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


def load_models(models_dir):
    """{name: ServedModel} of every saved model directly under `models_dir` (or `models_dir`
    itself, when it is one). A model that fails to load is one line on stderr, and skipped."""
    from nnkit.registry import load_task
    from nnkit.saving import load_model

    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise NnkitError(f"no models directory '{models_dir}' (train a model first, or pass --models DIR)")
    found = [models_dir] if (models_dir / MODEL_FILE).is_file() else sorted(
        path for path in models_dir.iterdir() if (path / MODEL_FILE).is_file())
    models = {}
    for directory in found:
        try:
            model, metadata = load_model(directory)  # Keras safe mode: no code runs from the file
            predictor = load_task(metadata["task"]).make_predictor(model, metadata)
        except Exception as error:  # a damaged or foreign model must not stop the others
            print(f"nnkit: warning: skipped '{directory}': {one_line(error, limit=None)}", file=sys.stderr, flush=True)
            continue
        models[directory.name] = ServedModel(directory.name, metadata["task"], metadata, predictor,
                                             ModelWorker(predictor, directory.name))
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


# What each endpoint asks of a model, run on the model's worker thread: f(predictor, items, **options)
# -> one result per item. Module-level, so that requests asking the same are merged into one batch.

def classify(predictor, images, top_k):
    results = predictor.classify(np.stack(images), [None] * len(images), top_k)
    return [{key: value for key, value in result.items() if key != "input"} for result in results]


def tag(predictor, texts):
    return predictor.predict(texts)


def translate(predictor, texts, beam_size, n_best):
    return predictor.translate(texts, beam_size=beam_size, n_best=n_best)


def caption(predictor, photos, beam_size, n_best):
    results = predictor.caption(np.stack(photos), beam_size=beam_size, n_best=n_best)
    return [{"caption": result["captions"][0]["text"], **result} for result in results]


def next_words(predictor, texts, count):
    return [predictor.predict(text, count) for text in texts]


def generate(predictor, prompts, length, temperature, top_k, seed):
    return [predictor.generate(prompt, length, temperature, top_k, seed) for prompt in prompts]


def answer(task, served, predictions):
    # JSONResponse directly: the results are plain JSON types, no encoder pass needed.
    return JSONResponse({"task": task, "model": served.name, "predictions": predictions})


def create_app(models_dir, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
    """The FastAPI app serving every model under `models_dir` (see `load_models`)."""
    models = load_models(models_dir)

    @asynccontextmanager
    async def lifespan(app):
        yield
        for served in models.values():
            served.worker.close()

    # No /docs: Swagger UI would load from a CDN, and the server works offline.
    app = FastAPI(title="nnkit", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.models = models
    app.add_middleware(inputs.BodyLimit, max_bytes=max_body_bytes)
    add_error_handlers(app)

    def model_for(task):
        async def dependency(model: str | None = Query(None, description="A loaded model's name")):
            return pick_model(models, task, model)

        return dependency

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": len(models)}

    @app.get("/v1/models")
    async def list_models():
        return {"models": [served.describe() for served in models.values()]}

    def image_classification(task):
        async def predict(served=Depends(model_for(task)), _=Depends(inputs.require_multipart),
                          images: list[UploadFile] = File(...), top_k: int = Form(1, ge=1)):
            uploads = await inputs.read_uploads(images)
            batch = await run_in_threadpool(inputs.decode_each, uploads, inputs.classifier_input(served.predictor))
            return answer(task, served, await served.worker.run(classify, batch, top_k=top_k))

        return predict

    for task in ("digits", "xo"):
        app.post(f"/v1/{task}/predict", name=f"{task}_predict")(image_classification(task))

    @app.post("/v1/caption/predict")
    async def caption_predict(served=Depends(model_for("caption")), _=Depends(inputs.require_multipart),
                              images: list[UploadFile] = File(...),
                              beam_size: int | None = Form(None, ge=1, le=inputs.MAX_BEAMS),
                              n_best: int = Form(1, ge=1, le=inputs.MAX_BEAMS)):
        inputs.check_beams(served.predictor, beam_size, n_best)
        uploads = await inputs.read_uploads(images)
        photos = await run_in_threadpool(inputs.decode_each, uploads, inputs.captioner_input(served.predictor))
        return answer("caption", served, await served.worker.run(caption, photos, beam_size=beam_size, n_best=n_best))

    @app.post("/v1/slots/predict")
    async def slots_predict(body: inputs.TextsRequest, served=Depends(model_for("slots")),
                            _=Depends(inputs.require_json)):
        texts = inputs.nonblank(body.texts)
        for index, text in enumerate(texts):  # punctuation alone leaves no word to tag
            try:
                served.predictor.tokenize(text)
            except NnkitError as error:
                raise HTTPException(422, f"texts[{index}]: {error}")
        return answer("slots", served, await served.worker.run(tag, texts))

    @app.post("/v1/translate/predict")
    async def translate_predict(body: inputs.TranslateRequest, served=Depends(model_for("translate")),
                                _=Depends(inputs.require_json)):
        texts = inputs.nonblank(body.texts)
        inputs.check_beams(served.predictor, body.beam_size, body.n_best)
        return answer("translate", served,
                      await served.worker.run(translate, texts, beam_size=body.beam_size, n_best=body.n_best))

    @app.post("/v1/lm/predict")
    async def lm_predict(body: inputs.NextWordsRequest, served=Depends(model_for("lm")),
                         _=Depends(inputs.require_json)):
        return answer("lm", served, await served.worker.run(next_words, body.texts, count=body.count))

    @app.post("/v1/lm/generate")
    async def lm_generate(body: inputs.GenerateRequest, served=Depends(model_for("lm")),
                          _=Depends(inputs.require_json)):
        [generation] = await served.worker.run(generate, [body.prompt], length=body.length,
                                               temperature=body.temperature, top_k=body.top_k, seed=body.seed)
        return JSONResponse({"task": "lm", "model": served.name, "generation": generation})

    @app.post("/v1/{task}/{action}")
    async def unknown_endpoint(task: str, action: str):
        if task not in TASKS:
            raise HTTPException(404, f"unknown task '{task}' (known: {', '.join(sorted(TASKS))})")
        actions = "predict and generate" if task == "lm" else "predict"
        raise HTTPException(404, f"no endpoint /v1/{task}/{action} ({task} has {actions})")

    @app.get("/", include_in_schema=False)
    async def web_page():
        page = WEB_DIRECTORY / "index.html"
        if not page.is_file():
            raise HTTPException(404, "the web page is not installed (nnkit/web/index.html is missing)")
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
