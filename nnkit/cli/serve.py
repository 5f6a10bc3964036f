"""The `nnkit serve` command. FastAPI, uvicorn and Keras are imported when it runs, so that
`nnkit --help` stays light; the app itself is in nnkit/serving/app.py."""

import click


@click.command("serve")
@click.option("--models", "models_dir", default="saved_models", show_default=True, metavar="DIR",
              help="Serve every saved model in DIR's subdirectories, each named after its directory.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 opens the server to the network (it has no authentication).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--max-body-mb", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Refuse (413) request bodies larger than this.")
@click.option("--time-limit", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds a request waits for its model before the server answers 503.")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
def serve(models_dir, host, port, max_body_mb, time_limit, access_log):
    """Serve saved models over HTTP: a JSON API (POST /v1/<task>/predict) and a web page at /."""
    import socket

    from nnkit.errors import UsageError

    # Say a taken port now, not after loading the models (uvicorn would say it in a log line).
    try:
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):
            pass
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error} (choose another --port or --host)")

    from nnkit.backend import import_keras_quietly

    import_keras_quietly()
    import uvicorn

    from nnkit.serving.app import create_app

    app = create_app(models_dir, max_body_bytes=int(max_body_mb * 2**20), time_limit=time_limit)
    click.echo(f"Loaded {len(app.state.models)} model(s) from {models_dir}:")
    for served in app.state.models.values():
        description = served.describe()
        click.echo(f"  {served.name}: {served.task} ({description['architecture']}, created {description['created']})")
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"Serving on http://{shown_host}:{port}/ (API under /v1/, Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="info" if access_log else "warning", access_log=access_log)
