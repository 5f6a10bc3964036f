"""One thread per served model runs every call to it, merging the requests that wait into one batch.

A Keras model is not safe to call from many threads at once, and each call has a fixed cost
(dispatch, and the Python around it), much the same for one image as for a hundred. So the
requests for one model queue up while it works, and when it is free it takes all that wait,
asks for the same thing (the same function and options) and runs them as one batch. Nothing waits on purpose for a batch to fill: an idle model answers
at once, a busy one answers many requests per call.
"""

import asyncio
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

MAX_BATCH_ITEMS = 256  # enough to amortise the call; more would only delay the first answers


@dataclass
class Job:
    function: object  # function(target, items, **options) -> one result per item
    items: list
    options: dict
    future: Future = field(default_factory=Future)

    def key(self):
        return self.function, tuple(sorted(self.options.items()))


class ModelWorker:
    def __init__(self, target, name, max_batch_items=MAX_BATCH_ITEMS):
        self.target, self.max_batch_items = target, max_batch_items
        self.jobs = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name=f"nnkit-model-{name}", daemon=True)
        self.thread.start()

    def submit(self, function, items, **options):
        """A Future of `function(target, items, **options)`, computed on the model's thread."""
        job = Job(function, list(items), options)
        self.jobs.put(job)
        return job.future

    async def run(self, function, items, **options):
        """`submit` for asyncio code: awaits the results without holding a thread."""
        return await asyncio.wrap_future(self.submit(function, items, **options))

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
