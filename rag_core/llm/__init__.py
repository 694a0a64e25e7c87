"""The language model layer under retrieval and generation.

The Ollama client and its error mapping (:mod:`.ollama`), reasoning split off
(:mod:`.reasoning`) and preambles stripped (:mod:`.preamble`). Both the query translation
(:mod:`rag_core.retrieval.translation`) and the answer chain (:mod:`rag_core.generation`)
call a model; what they share lives here, so retrieval never imports generation.
"""
