"""The caption endpoint of `nnkit serve`: POST /v1/caption/predict, multipart photos in `images`
and optional `beam_size` and `n_best` form fields. Imported only by `Task.routes`, so the
CLI never loads FastAPI for it."""

import numpy as np
from fastapi import APIRouter, Depends, File, Form, UploadFile

from nnkit.serving.inputs import MAX_BEAMS


def caption(predictor, photos, beam_size, n_best):
    results = predictor.caption(np.stack(photos), beam_size=beam_size, n_best=n_best)
    return [{"caption": result["captions"][0]["text"], **result} for result in results]


def captioner_input(predictor):
    """A decoded photo -> the captioner's input, as `Captioner.read` makes it."""
    from nnkit.data.photos import photo_array

    def convert(image, label):
        return np.asarray(photo_array(image, predictor.info["image_size"], label))

    return convert


def routes(task, serving):
    router = APIRouter()
    inputs = serving.inputs

    @router.post(f"/v1/{task.name}/predict", name=f"{task.name}_predict")
    async def predict(served=Depends(serving.model_for(task.name)), _=Depends(inputs.require_multipart),
                      images: list[UploadFile] = File(...),
                      beam_size: int | None = Form(None, ge=1, le=MAX_BEAMS),
                      n_best: int = Form(1, ge=1, le=MAX_BEAMS)):
        inputs.check_beams(served.predictor, beam_size, n_best)
        photos = await inputs.decoded_uploads(images, captioner_input(served.predictor))
        return serving.answer(served, await served.worker.run(caption, photos, beam_size=beam_size, n_best=n_best))

    return router
