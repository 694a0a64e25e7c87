"""Entry point: ``streamlit run app.py``. Page config and the router, nothing else."""

import logging

from ui.routing import build_navigation, routed

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
page = build_navigation()
with routed():
    page.run()
