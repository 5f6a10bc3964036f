"""The slots endpoint of `nnkit serve`: POST /v1/slots/predict, JSON {"texts": [...]}.
Imported only by `Task.routes`, so the CLI never loads FastAPI for it."""

from fastapi import APIRouter, Depends, HTTPException

from nnkit.errors import NnkitError


def tag(predictor, texts):
    return predictor.predict(texts)


def routes(task, serving):
    router = APIRouter()
    inputs = serving.inputs

    @router.post(f"/v1/{task.name}/predict", name=f"{task.name}_predict")
    async def predict(body: inputs.TextsRequest, served=Depends(serving.model_for(task.name)),
                      _=Depends(inputs.require_json)):
        texts = inputs.within_budget(inputs.nonblank(body.texts))
        for index, text in enumerate(texts):  # punctuation alone leaves no word to tag
            try:
                served.predictor.tokenize(text)
            except NnkitError as error:
                raise HTTPException(422, f"texts[{index}]: {error}")
        return serving.answer(served, await served.worker.run(tag, texts))

    return router
