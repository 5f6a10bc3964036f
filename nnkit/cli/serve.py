"""The `nnkit serve` command. FastAPI and uvicorn are imported when it runs (Keras only for a
model that runs in it: --runtime), so that `nnkit --help` stays light; the app itself is in
nnkit/serving/app.py."""

import click

from nnkit.cli.options import runtime_option


@click.command("serve")
@click.option("--models", "models_dir", default="saved_models", show_default=True, metavar="DIR",
              help="Serve every saved model in DIR's subdirectories, each named after its directory.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 opens the server to the network (use --api-key-file there).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--max-body-mb", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Refuse (413) request bodies larger than this.")
@click.option("--time-limit", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds a request waits for its model before the server answers 503.")
@click.option("--queue-size", default=64, show_default=True, type=click.IntRange(min=1),
              help="Requests that may wait for one model; past it the server answers 503 with Retry-After.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds a connection may take to send a request's headers (or stay idle) before it is closed.")
@click.option("--max-connections", default=256, show_default=True, type=click.IntRange(min=1),
              help="Open connections at most; one more is answered 503 and closed.")
@click.option("--api-key-file", metavar="FILE",
              help="Require 'Authorization: Bearer KEY' on /v1/ and /metrics, KEY one of FILE's lines "
                   "(also: keys in $NNKIT_API_KEYS).")
@runtime_option
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
def serve(models_dir, host, port, max_body_mb, time_limit, queue_size, header_timeout, max_connections, api_key_file,
          runtime, access_log):
    """Serve saved models over HTTP: a JSON API (POST /v1/<task>/predict) and a web page at /."""
    import socket

    from nnkit.errors import UsageError
    from nnkit.serving.auth import KEYS_VARIABLE, is_loopback, read_keys

    api_keys = read_keys(api_key_file)  # a bad key file is one line, before anything loads
    if not api_keys and not is_loopback(host):
        click.echo(f"nnkit: warning: {host} is reachable from other machines and the API needs no key: "
                   f"pass --api-key-file FILE or set {KEYS_VARIABLE}", err=True)
    # Say a taken port now, not after loading the models (uvicorn would say it in a log line).
    try:
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):
            pass
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error} (choose another --port or --host)")

    import uvicorn  # Keras is imported only for a model that runs in it (nnkit.saving.load_model)

    from nnkit.serving.app import create_app
    from nnkit.serving.connections import guarded_protocol

    app = create_app(models_dir, max_body_bytes=int(max_body_mb * 2**20), time_limit=time_limit, max_queue=queue_size,
                     api_keys=api_keys, runtime=runtime)
    click.echo(f"Loaded {len(app.state.models)} model(s) from {models_dir}:")
    for served in app.state.models.values():
        description = served.describe()
        click.echo(f"  {served.name}: {served.task} ({description['architecture']}, created {description['created']})")
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"Serving on http://{shown_host}:{port}/ (API under /v1/, Ctrl+C to stop)"
               + (f"; {len(api_keys)} API key(s)" if api_keys else ""))
    uvicorn.run(app, host=host, port=port, log_level="info" if access_log else "warning", access_log=access_log,
                http=guarded_protocol(header_timeout, max_connections))
