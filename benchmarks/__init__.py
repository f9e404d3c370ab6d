"""`make bench` and `make bench-data`: speed measured side by side in one run (tooling, not
part of the dl101 package)."""
