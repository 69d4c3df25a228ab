"""Benchmarks: the bot's pooled SSH against one `ssh` process per command, on real nodes."""
