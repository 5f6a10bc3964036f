"""The connection guard of `nnkit serve`: the limits uvicorn does not set on its own.

uvicorn closes a kept-alive connection that stays idle (`timeout_keep_alive`), but sets no
deadline on a request's head (its request line and headers): a connection that sends nothing,
or half a header and then stalls, or a byte now and then, is held for ever (uvicorn issue #157),
and ASGI middleware never sees it. Nor does it cap connections: `--limit-concurrency` answers
503 only once a head has arrived, and to every connection alike, the good ones too.

`guarded_protocol` is uvicorn's h11 protocol with both: a connection whose next request head is
not complete within `head_seconds` of when it began waiting for one (it opened, or its last
answer was sent) is closed, with a 408 if it had sent part of one; a connection past
`max_connections` is answered 503 with Retry-After and closed at once. Once a head has arrived
the request is the app's: BodyLimit (inputs.py) bounds the time its body may take.
"""

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from nnkit.serving.inputs import error_body

HEAD_SECONDS = 10.0
MAX_CONNECTIONS = 256
REFUSED_SECONDS = 1.0  # how long a refused connection may take to read its 503


def raw_response(status, reason, message, *headers):
    """A whole HTTP/1.1 answer, JSON error body, that closes the connection: written on the
    transport directly, where no request cycle exists to answer through."""
    body = json.dumps(error_body(status, message)).encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", f"content-length: {len(body)}",
            "connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class GuardedH11Protocol(H11Protocol):
    head_seconds = HEAD_SECONDS
    max_connections = MAX_CONNECTIONS
    head_timer = None
    refused = False

    def connection_made(self, transport):
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.refuse()
            return
        self.await_head()

    def refuse(self):
        """Answer 503 and end the connection. Only our side is shut at once: closing a socket
        with the client's request unread would reset it, and the answer with it; what the client
        sends meanwhile is dropped, and the connection closed once it has read, or in a second."""
        self.refused = True
        self.transport.write(raw_response(503, "Service Unavailable",
                                          f"the server has {self.max_connections} connections open: try again shortly",
                                          "retry-after: 1"))
        self.transport.write_eof()
        self.head_timer = self.loop.call_later(REFUSED_SECONDS, self.transport.close)

    def data_received(self, data):
        if not self.refused:
            super().data_received(data)

    def on_response_complete(self):
        super().on_response_complete()
        self.await_head()

    def connection_lost(self, exc):
        self.stop_head_timer()
        super().connection_lost(exc)

    def await_head(self):
        self.stop_head_timer()
        if not self.transport.is_closing():
            self.head_timer = self.loop.call_later(self.head_seconds, self.head_deadline)

    def stop_head_timer(self):
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_deadline(self):
        self.head_timer = None
        # IDLE: no request head complete since the timer started (one that came is being answered).
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:  # part of a head came: say why the connection ends
            self.transport.write(raw_response(408, "Request Timeout",
                                              f"the request's headers did not arrive within {self.head_seconds:g} s"))
        self.transport.close()


def guarded_protocol(head_seconds=HEAD_SECONDS, max_connections=MAX_CONNECTIONS):
    """The protocol class to pass as uvicorn's `http`, with these limits."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"head_seconds": head_seconds, "max_connections": max_connections})
