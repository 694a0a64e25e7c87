"""Chats: the stored chat history (:mod:`.history`) and its Markdown export (:mod:`.export`)."""
