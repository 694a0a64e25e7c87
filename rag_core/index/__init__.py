"""The index: embeddings, vector store, document registry, BM25 index, stored files.

Also the single-writer lock and collection admin (list, delete, re-index).
"""
