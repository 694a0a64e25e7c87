"""Evaluation: retrieval metrics (:mod:`.retrieval`) and answer quality (:mod:`.answers`)."""
