"""Evaluation: retrieval (:mod:`.retrieval`), answers (:mod:`.answers`), OCR CER (:mod:`.ocr`)."""
