"""The lm endpoints of `nnkit serve`: POST /v1/lm/predict, JSON {"texts": [...], "count"} (the
likeliest next words), and POST /v1/lm/generate, JSON {"prompt", "length", "temperature",
"top_k", "seed"}. Imported only by `Task.routes`, so the CLI never loads FastAPI."""

from fastapi import APIRouter, Depends
from pydantic import Field

from nnkit.serving.inputs import MAX_INPUTS, Strict


class NextWordsRequest(Strict):
    # An empty text asks for the first word of a sentence.
    texts: list[str] = Field(min_length=1, max_length=MAX_INPUTS)
    count: int = Field(5, ge=1, le=100)


class GenerateRequest(Strict):
    prompt: str = ""
    length: int = Field(20, ge=1, le=1000)
    temperature: float = Field(1.0, ge=0, le=100)
    top_k: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0)


def next_words(predictor, texts, count):
    return predictor.predict(texts, count=count)


def generate(predictor, prompts, length, temperature, top_k, seed):
    return [predictor.generate(prompt, length, temperature, top_k, seed) for prompt in prompts]


def routes(task, serving):
    router = APIRouter()
    inputs = serving.inputs

    @router.post(f"/v1/{task.name}/predict", name=f"{task.name}_predict")
    async def predict(body: NextWordsRequest, served=Depends(serving.model_for(task.name)),
                      _=Depends(inputs.require_json)):
        texts = inputs.within_budget(body.texts)
        return serving.answer(served, await served.worker.run(next_words, texts, count=body.count))

    @router.post(f"/v1/{task.name}/generate", name=f"{task.name}_generate")
    async def generate_text(body: GenerateRequest, served=Depends(serving.model_for(task.name)),
                            _=Depends(inputs.require_json)):
        inputs.within_budget([body.prompt])
        [generation] = await served.worker.run(generate, [body.prompt], length=body.length,
                                               temperature=body.temperature, top_k=body.top_k, seed=body.seed)
        return serving.answer(served, generation, key="generation")

    return router
