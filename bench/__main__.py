"""Entry point: `uv run python -m bench` runs every benchmark and prints the table."""

from bench.run import main

if __name__ == "__main__":
    main()
