"""The endpoint of an image-classification task for `nnkit serve`: POST /v1/<task>/predict with
multipart image files in `images` and an optional `top_k` form field. Imported only by
`ImageClassificationTask.routes`, so the CLI never loads FastAPI for it."""

import numpy as np
from fastapi import APIRouter, Depends, File, Form, UploadFile


def classify(predictor, images, top_k):
    """On the model's worker thread: prepared images -> one result per image (no "input": the
    server has no path to show)."""
    results = predictor.classify(np.stack(images), [None] * len(images), top_k)
    return [{key: value for key, value in result.items() if key != "input"} for result in results]


def classifier_input(predictor):
    """A decoded image -> the classifier's input, as `ImagePredictor.preprocess` makes it."""
    from nnkit.data.images import luminance

    def convert(image, label):
        return predictor.prepare(luminance(image), f"'{label}'")

    return convert


def image_classification_routes(task, serving):
    router = APIRouter()
    inputs = serving.inputs

    @router.post(f"/v1/{task.name}/predict", name=f"{task.name}_predict")
    async def predict(served=Depends(serving.model_for(task.name)), _=Depends(inputs.require_multipart),
                      images: list[UploadFile] = File(...), top_k: int = Form(1, ge=1)):
        batch = await inputs.decoded_uploads(images, classifier_input(served.predictor))
        return serving.answer(served, await served.worker.run(classify, batch, top_k=top_k))

    return router
