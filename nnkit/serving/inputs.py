"""What `nnkit serve` accepts: the body size limit, content types, JSON bodies, uploaded images.

Everything a client can get wrong becomes an HTTPException with a one-line message here,
before a model sees the request.
"""

import asyncio
import io

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from starlette.responses import JSONResponse

from nnkit.errors import NnkitError
from nnkit.raw_inputs import unicode_text

MAX_INPUTS = 256  # images or texts per request
MAX_BEAMS = 16
# Words x beams one request may ask for (its texts' words, each searched with that many beams):
# a few seconds of a small model on 2 cores. A 2,000-word text at beam 16 held a model for 24 s.
MAX_WORK = 8_000
BODY_READ_SECONDS = 15.0
BODY_TOTAL_SECONDS = 60.0  # a 10 MB body at 1.4 Mbit/s
# An answer before the whole body was read ends the connection: what is left of the body would
# be read as the next request, and a stalled client would hold the connection a while longer.
UNREAD = {"connection": "close"}


def error_body(status, message):
    return {"error": {"status": status, "message": message}}


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, decided from Content-Length before
    reading any of it, or (for a chunked body) as soon as the bytes read pass the limit; at most
    `max_bytes` are ever held; 408 for a body that stops arriving for `read_seconds`, or is not
    all there after `total_seconds` (a client that sends half a request, or a byte now and then,
    must not hold the server). The app then reads the body from memory."""

    def __init__(self, app, max_bytes, read_seconds=BODY_READ_SECONDS, total_seconds=BODY_TOTAL_SECONDS):
        self.app, self.max_bytes = app, max_bytes
        self.read_seconds, self.total_seconds = read_seconds, total_seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.too_large(scope, receive, send)
            return
        chunks, size = [], 0
        deadline = asyncio.get_running_loop().time() + self.total_seconds
        while True:
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), min(self.read_seconds, max(left, 0)))
            except asyncio.TimeoutError:
                message = (f"the request body stopped arriving for {self.read_seconds:g} s" if left > self.read_seconds
                           else f"the request body did not all arrive within {self.total_seconds:g} s")
                await JSONResponse(error_body(408, message), status_code=408, headers=UNREAD)(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self.too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:  # later calls wait for the client to disconnect, as the server's would
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def too_large(self, scope, receive, send):
        limit = f"{self.max_bytes / 2**20:g} MB" if self.max_bytes >= 2**20 else f"{self.max_bytes:,} bytes"
        message = f"the request body is larger than the server's limit of {limit}"
        await JSONResponse(error_body(413, message), status_code=413, headers=UNREAD)(scope, receive, send)


def _content_type(request):
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def require_multipart(request: Request):
    if _content_type(request) != "multipart/form-data":
        raise HTTPException(415, f"expected multipart/form-data with image files in field 'images', "
                                 f"got {_content_type(request) or 'no content type'}")


async def require_json(request: Request):
    kind = _content_type(request)
    if kind != "application/json" and not kind.endswith("+json"):
        raise HTTPException(415, f"expected a JSON body (application/json), got {kind or 'no content type'}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt option is an error, not ignored

    @model_validator(mode="after")
    def unicode_texts(self):
        """Every text in the body is valid Unicode: JSON can carry a lone surrogate ("\\ud800"),
        which no tokenizer or encoder takes."""
        for name, value in self:
            for place, text in _texts(value, name):
                try:
                    unicode_text(text, place)
                except NnkitError as error:  # as pydantic's own error: a 422 with this message
                    raise PydanticCustomError("unicode", str(error))
        return self


def _texts(value, place):
    """(where, text) for every str in a JSON value."""
    if isinstance(value, str):
        yield place, value
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _texts(item, f"{place}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{place}.{key}")


class TextsRequest(Strict):
    texts: list[str] = Field(min_length=1, max_length=MAX_INPUTS)


class PredictRequest(Strict):
    """The generic endpoint's body: `Predictor.predict(inputs, **options)`."""
    inputs: list = Field(min_length=1, max_length=MAX_INPUTS)
    options: dict = Field(default_factory=dict)


def nonblank(texts):
    """The texts, refused (422) where one has nothing to read."""
    for index, text in enumerate(texts):
        if not text.strip():
            raise HTTPException(422, f"texts[{index}] is empty")
    return texts


def within_budget(texts, beams=1):
    """The texts, refused (413) where their words times the beams pass MAX_WORK: the work a
    request asks for is bounded before a model starts on it (words counted by spaces, cheaply)."""
    words = sum(len(text.split()) for text in texts)
    if words * beams > MAX_WORK:
        raise HTTPException(413, f"the request asks for {words:,} words x {beams} beam(s); the server takes at "
                                 f"most {MAX_WORK:,} per request: send fewer or shorter texts, or fewer beams")
    return texts


def check_beams(predictor, beam_size, n_best):
    """Refuse more best answers than beams (the model's own beam size when none is asked)."""
    beams = beam_size or predictor.decoding["beam_size"]
    if n_best > beams:
        raise HTTPException(422, f"n_best {n_best} needs at least as many beams (beam_size {beams})")


def checked_count(uploads):
    if len(uploads) > MAX_INPUTS:
        raise HTTPException(422, f"{len(uploads)} images in one request; at most {MAX_INPUTS}")
    return uploads


async def read_uploads(uploads):
    """[(label, bytes)] of the uploaded files, labelled by file name for error messages."""
    return [(upload.filename or f"image {index + 1}", await upload.read())
            for index, upload in enumerate(checked_count(uploads))]


def decode_each(uploads, convert):
    """[convert(PIL image, label)] for uploaded (label, bytes): a file Pillow cannot decode is
    a 422; what `convert` refuses (a blank digit, say) is the NnkitError it raises, a 400."""
    from nnkit.data.images import ImageTooLarge, decoded_image

    converted = []
    for label, data in uploads:
        decoded = False
        try:
            with decoded_image(io.BytesIO(data), label) as image:
                decoded = True
                converted.append(convert(image, label))
        except ImageTooLarge as error:
            raise HTTPException(413, str(error))
        except NnkitError as error:
            if not decoded:
                raise HTTPException(422, str(error))
            raise
    return converted


async def decoded_uploads(images, convert):
    """`decode_each` of the uploaded files `images`, decoded off the event loop."""
    return await run_in_threadpool(decode_each, await read_uploads(images), convert)
