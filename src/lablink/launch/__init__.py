"""``lablink launch``: run any command as a tracked, bounded, restartable job (local)."""
