"""What the benchmark studies share: records, commands, statistics,
reports and plots. Studies import its modules as ``harness.<module>``."""
