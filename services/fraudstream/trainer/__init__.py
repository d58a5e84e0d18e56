"""The trainer (see docs/architecture.md)."""
