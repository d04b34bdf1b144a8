"""The demo behind `lablink demo`: real training on bundled data, tracked by the SDK."""
