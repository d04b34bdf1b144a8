"""Where the REST API lives: the server mounts it here and the SDK's clients call it."""

from __future__ import annotations

API_PREFIX = "/api/v1"
