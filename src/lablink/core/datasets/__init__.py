"""Versioned datasets: references, manifests, versions, packs and transfers.

``refs``, ``manifest`` and ``packs`` are pure (the SDK imports them without loading
the database layer); ``versions.Datasets`` holds the use cases over a store and a blob
store; ``transfer.Transfers`` the origin's data plane.
"""
