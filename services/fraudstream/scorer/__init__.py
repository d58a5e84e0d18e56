"""The scorer (see docs/architecture.md)."""
