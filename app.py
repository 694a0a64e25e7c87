"""Entry point: ``streamlit run app.py``. Page config, the sign-in gate and the router."""

import logging

from ui.auth import is_signed_in, require_login
from ui.folder_sync import start_folder_sync
from ui.preferences import restore_language
from ui.resources import get_settings, get_warmup
from ui.routing import build_navigation, routed

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
settings = get_settings()
restore_language(settings)  # the UI language picked before a reload or restart
get_warmup(settings)  # the embedding model gets ready in the background, once per process
start_folder_sync(settings)  # saved server folders are watched and synced, once per process
page = build_navigation(show_menu=is_signed_in(settings))
with routed():
    require_login(settings)  # shows the sign-in form and stops, when RAG_AUTH_CONFIG is set
    page.run()
