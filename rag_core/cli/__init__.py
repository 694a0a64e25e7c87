"""The command line's commands (the parser: :mod:`rag_core.__main__`)."""
