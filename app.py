"""Entry point: ``streamlit run app.py``. Page config and the router, nothing else."""

import logging

import streamlit as st

from ui.i18n import t

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
st.set_page_config(
    page_title="Chat with your PDFs", page_icon=":material/description:", layout="wide"
)
navigation = st.navigation(
    [
        st.Page("pages/chat.py", title=t("nav.chat"), icon=":material/chat:", default=True),
        st.Page("pages/documents.py", title=t("nav.documents"), icon=":material/upload_file:"),
        st.Page("pages/evaluate.py", title=t("nav.evaluate"), icon=":material/analytics:"),
    ]
)
navigation.run()
