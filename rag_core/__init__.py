"""rag_core: the engine of the local chat-with-your-PDFs app (no Streamlit in here)."""
