"""What one request may hold: the server's bounds on things cheap to send, dear to store.

Every bound the API enforces beyond the request-size limit is named here (and listed
in docs/api.md, "Limits"), so the routes, the core and the OpenAPI spec agree.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# A run's config: serialized size, parameters once flattened (``model.depth``), nesting.
MAX_CONFIG_BYTES = 256 * KIB
MAX_PARAMS = 5_000
MAX_DEPTH = 64  # Python's json decoder recurses per level
# A run's tags, a note's text, a run's summary (serialized).
MAX_TAGS = 100
MAX_NOTE_CHARS = 100_000
MAX_SUMMARY_BYTES = 256 * KIB
# Distinct metric keys in one batch (points per key are bounded by the body size).
MAX_BATCH_METRICS = 10_000
# Runs in one ``POST /runs/batch``: a few MB of JSON at most, one short write transaction.
MAX_BATCH_RUNS = 1000
# Bodies of every write that is not bulk data (batches, blobs, packs, schemas): the
# body-size guard applies this instead of LABLINK_MAX_REQUEST_BYTES.
MAX_SMALL_BODY_BYTES = 1 * MIB
