"""Calls `sys.exit(3)` at import: importing it raises SystemExit(3), which ends an importing process that does not
catch it. It never gets as far as defining a Value."""
import sys

sys.exit(3)
