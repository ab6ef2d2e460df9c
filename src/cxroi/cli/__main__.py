"""``python -m cxroi.cli``: the same as the ``cxroi`` command."""

from cxroi.cli import main

if __name__ == "__main__":
    main()
