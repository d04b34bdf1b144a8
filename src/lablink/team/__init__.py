"""Team operations: the bus factor (and, later, roster, core hours and on-call)."""
