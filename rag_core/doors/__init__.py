"""The doors: protocols that reach the engine from outside the app (HTTP API, MCP).

Each door only translates its protocol to :class:`rag_core.engine.Engine` calls; none
builds a chain, a retriever or a queue of its own.
"""
