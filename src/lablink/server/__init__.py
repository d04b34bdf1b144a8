"""The HTTP server: the REST API under ``/api/v1``, live events, and the web UI.

``lablink.server.app.create_app(lab)`` builds the ASGI application; ``serve`` runs it on
uvicorn. FastAPI, Starlette and uvicorn are imported only below this package, so
``import lablink`` in training code never loads them.

Layout::

    app.py         create_app() factory, lifespan, serve() and logging set-up
    middleware.py  request log, body size limit, bearer-token check, NUL guard
    errors.py      every error as the JSON envelope of ``LablinkError.to_dict()``
    jsonio.py      JSON that keeps NaN and ±Infinity; raw-body JSON parsing
    fields.py      request-body field types shared by the routers
    deps.py        route dependencies: the app's Lab and the acting user
    live.py        the per-process event hub behind Server-Sent Events
    api/           one router per resource
"""
