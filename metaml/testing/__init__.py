"""Support for tests and benchmarks of metaml and of code built on it (not used by the library itself)."""
