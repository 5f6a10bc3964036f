"""The xo endpoints of `nnkit serve`: the image-classification family's POST /v1/xo/predict
(one cell per image), and POST /v1/xo/board: multipart photos of whole boards in `photo` or
`images`, an optional `move` form flag -> the board read from each, as `nnkit xo board --json`
gives it (without "input": the server has no path to show). Imported only by `Task.routes`,
so the CLI never loads FastAPI for it."""

from fastapi import Depends, File, Form, HTTPException, UploadFile

from nnkit.families.image_classification_serving import image_classification_routes


def read_boards(predictor, photos, move):
    """On the model's worker thread: decoded photos -> one board each."""
    from nnkit.apps.xo.board import read_board

    return [{key: value for key, value in read_board(predictor, photo, label, move).items() if key != "input"}
            for label, photo in photos]


def board_input(image, label):
    """A decoded upload, kept as (label, RGB copy): the board reader does its own preparation."""
    return label, image.convert("RGB")


def routes(task, serving):
    router = image_classification_routes(task, serving)
    inputs = serving.inputs

    @router.post(f"/v1/{task.name}/board", name=f"{task.name}_board")
    async def board(served=Depends(serving.model_for(task.name)), _=Depends(inputs.require_multipart),
                    photo: list[UploadFile] | None = File(None), images: list[UploadFile] | None = File(None),
                    move: bool = Form(False)):
        uploads = [*(photo or []), *(images or [])]
        if not uploads:
            raise HTTPException(422, "no photo: send the board's photo as a multipart file in 'photo' (or 'images')")
        photos = await inputs.decoded_uploads(uploads, board_input)
        return serving.answer(served, await served.worker.run(read_boards, photos, move=move), key="boards")

    return router
