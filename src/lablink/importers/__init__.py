"""Importers: runs other tools recorded, brought into lablink.

A *source* (``mlflow_source.py``: an MLflow server or store; ``tensorboard_source.py``:
event files) yields ``SourceRun``s; a *sink* (``sink.py`` in-process, ``sink_http.py``
over a lablink server) writes them through the same use cases the MLflow-compatible API
calls; ``engine.py`` moves one into the other, resumably: every imported run carries
its origin in a tag, points go in numbered batches that lablink ingests once, and a run
is marked complete only when everything of it is stored.
"""
