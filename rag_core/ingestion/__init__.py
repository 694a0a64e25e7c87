"""Ingestion: files -> chunks. Parse worker (limits), loaders, splitting, THE pipeline, queue."""
