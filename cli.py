"""`python cli.py ...` is the same app as the `align` command."""

from align.cli import app

if __name__ == "__main__":
    app()
