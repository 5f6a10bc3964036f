"""One thread per served model runs every call to it, merging the requests that wait into one batch.

A Keras model is not safe to call from many threads at once, and each call has a fixed cost
(dispatch, and the Python around it), much the same for one image as for a hundred. So the
requests for one model queue up while it works, and when it is free it takes all that wait,
asks for the same thing (the same function and options) and runs them as one batch. Nothing waits on purpose for a batch to fill: an idle model answers
at once, a busy one answers many requests per call. The queue is bounded: past `max_queue`
waiting requests a new one is refused at once (503 with Retry-After) rather than held, so that
a burst costs neither unbounded memory nor answers that come too late to matter.
"""

import asyncio
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

MAX_BATCH_ITEMS = 256  # enough to amortise the call; more would only delay the first answers
TIME_LIMIT_S = 30.0  # the longest a request waits for its answer
MAX_QUEUE = 64  # requests waiting for one model (--queue-size); four times the 16 clients benchmarked


class ModelBusy(Exception):
    """A request the model could not answer in time (the server answers 503, Retry-After)."""


class QueueFull(ModelBusy):
    """A request refused because `max_queue` requests already wait for the model (503 too)."""


@dataclass
class Job:
    function: object  # function(target, items, **options) -> one result per item
    items: list
    options: dict
    future: Future = field(default_factory=Future)

    def key(self):
        return self.function, tuple(sorted(self.options.items()))


class ModelWorker:
    def __init__(self, target, name, max_batch_items=MAX_BATCH_ITEMS, time_limit=TIME_LIMIT_S, max_queue=MAX_QUEUE):
        self.target, self.name, self.max_batch_items = target, name, max_batch_items
        self.time_limit, self.max_queue = time_limit, max_queue
        self.jobs = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name=f"nnkit-model-{name}", daemon=True)
        self.thread.start()

    def submit(self, function, items, **options):
        """A Future of `function(target, items, **options)`, computed on the model's thread;
        QueueFull when `max_queue` requests wait already."""
        if self.waiting() >= self.max_queue:
            raise QueueFull(f"{self.max_queue} requests already wait for model '{self.name}': try again shortly")
        job = Job(function, list(items), options)
        self.jobs.put(job)
        return job.future

    async def run(self, function, items, **options):
        """`submit` for asyncio code: awaits the results without holding a thread, for at most
        `time_limit` seconds. Past it the client is answered (ModelBusy) and the job, if it has
        not started, is dropped; one already running finishes (a Keras call cannot be stopped),
        which is why the server also bounds each request's work (nnkit.serving.inputs)."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self.submit(function, items, **options)),
                                          self.time_limit)
        except asyncio.TimeoutError:
            raise ModelBusy(f"no answer within {self.time_limit:g} s: the model is busy or the request asks "
                            "for too much; try again, or with less")

    def waiting(self):
        """Requests queued and not yet taken by the model's thread (those dropped after their
        time limit included, until the thread passes them: they still hold their inputs)."""
        return self.jobs.qsize()

    def close(self):
        self.jobs.put(None)
        self.thread.join(timeout=60)

    def _serve(self):
        while True:
            job = self.jobs.get()
            if job is None:
                return
            waiting, size, stop = [job], len(job.items), False
            while size < self.max_batch_items:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                waiting.append(job)
                size += len(job.items)
            groups = {}
            for job in waiting:
                if job.future.set_running_or_notify_cancel():  # False: its client went away
                    groups.setdefault(job.key(), []).append(job)
            for group in groups.values():
                self._run(group)
            if stop:
                return

    def _run(self, group):
        first = group[0]
        try:
            results = first.function(self.target, [item for job in group for item in job.items], **first.options)
        except BaseException as error:
            if len(group) == 1:
                first.future.set_exception(error)
                return
            # One request's bad input must not fail the others merged with it: run each alone.
            for job in group:
                self._run([job])
            return
        start = 0
        for job in group:
            job.future.set_result(results[start: start + len(job.items)])
            start += len(job.items)
