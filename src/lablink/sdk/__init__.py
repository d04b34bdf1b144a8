"""The SDK: ``init``/``Run`` for training code, ``Client`` for queries, two transports."""
