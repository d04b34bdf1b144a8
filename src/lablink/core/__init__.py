"""Use cases, one module per capability; each takes a Store and the acting user."""
