"""API keys of `nnkit serve`: with keys, every API route (/v1/..., /metrics) needs the header
`Authorization: Bearer KEY`; /health and the web page's own files (/, /static/, /panels/) stay
open, so that a load balancer can check the server and the page can load and ask for a key.

Keys come from `--api-key-file` (one a line; blank lines and # comments skipped) and from the
environment variable NNKIT_API_KEYS (separated by commas or white space). Without any, every
route is open, as before, and binding to an address other than loopback prints a warning.
"""

import hmac
import ipaddress
import os
import stat

from starlette.responses import JSONResponse

from nnkit.errors import NnkitError
from nnkit.serving.inputs import error_body

KEYS_VARIABLE = "NNKIT_API_KEYS"
PROTECTED = ("/v1/", "/metrics")  # path prefixes that need a key
MAX_KEY_FILE_BYTES = 2**20


def read_keys(key_file=None, environment=None):
    """The API keys of `key_file` and $NNKIT_API_KEYS (a tuple; empty: no keys). A key file that
    cannot be read, is not a regular file or holds no key is an NnkitError."""
    keys = (environment if environment is not None else os.environ).get(KEYS_VARIABLE, "").replace(",", " ").split()
    if key_file is not None:
        keys += keys_of_file(key_file)
    return tuple(dict.fromkeys(keys))


def keys_of_file(path):
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below, unread.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise NnkitError(f"API key file '{path}' is not a regular file")
            with open(descriptor, "rb", closefd=False) as file:
                data = file.read(MAX_KEY_FILE_BYTES + 1)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise NnkitError(f"cannot read API key file '{path}': {error.strerror or error}")
    if len(data) > MAX_KEY_FILE_BYTES:
        raise NnkitError(f"API key file '{path}' is over 1 MB: it should hold one key a line")
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise NnkitError(f"API key file '{path}' is not UTF-8 text")
    keys = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not keys:
        raise NnkitError(f"API key file '{path}' holds no key (one a line; blank lines and # comments are skipped)")
    for number, key in enumerate(keys, 1):
        if any(character.isspace() or not character.isprintable() for character in key):
            raise NnkitError(f"API key file '{path}': key {number} holds a space or an unprintable character")
    return keys


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve to any address
        return False


def key_matches(given, keys):
    """Whether `given` is one of `keys`, comparing in constant time with each of them (no early
    exit, so that the time taken tells nothing about which key, or how much of one, matched)."""
    given = given.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


class RequireKey:
    """ASGI middleware: 401 with WWW-Authenticate for a request to a protected path without one
    of `keys` as its Bearer token; refused before the body is read."""

    def __init__(self, app, keys):
        self.app, self.keys = app, keys

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED):
            await self.app(scope, receive, send)
            return
        scheme, _, given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and key_matches(given.strip(), self.keys):
            await self.app(scope, receive, send)
            return
        if not scheme:
            message, challenge = "this server needs an API key: send 'Authorization: Bearer KEY'", 'Bearer realm="nnkit"'
        else:
            message, challenge = "the API key is not valid", 'Bearer realm="nnkit", error="invalid_token"'
        await JSONResponse(error_body(401, message), status_code=401,
                           headers={"WWW-Authenticate": challenge})(scope, receive, send)
