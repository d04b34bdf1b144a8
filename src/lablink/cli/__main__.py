"""``python -m lablink.cli``: the ``lablink`` command without the console script on PATH."""

from lablink.cli.entry import main

if __name__ == "__main__":
    main()
