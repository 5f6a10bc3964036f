"""The translate endpoint of `nnkit serve`: POST /v1/translate/predict, JSON {"texts": [...],
"beam_size", "n_best"}. Imported only by `Task.routes`, so the CLI never loads FastAPI."""

from fastapi import APIRouter, Depends
from pydantic import Field

from nnkit.serving.inputs import MAX_BEAMS, TextsRequest


class TranslateRequest(TextsRequest):
    beam_size: int | None = Field(None, ge=1, le=MAX_BEAMS)
    n_best: int = Field(1, ge=1, le=MAX_BEAMS)


def translate(predictor, texts, beam_size, n_best):
    return predictor.translate(texts, beam_size=beam_size, n_best=n_best)


def routes(task, serving):
    router = APIRouter()
    inputs = serving.inputs

    @router.post(f"/v1/{task.name}/predict", name=f"{task.name}_predict")
    async def predict(body: TranslateRequest, served=Depends(serving.model_for(task.name)),
                      _=Depends(inputs.require_json)):
        texts = inputs.nonblank(body.texts)
        inputs.check_beams(served.predictor, body.beam_size, body.n_best)
        inputs.within_budget(texts, body.beam_size or served.predictor.decoding["beam_size"])
        return serving.answer(served, await served.worker.run(translate, texts, beam_size=body.beam_size,
                                                              n_best=body.n_best))

    return router
