"""The live model-quality monitor: joins scores with labels as they arrive (issue 16)."""
