"""Sign-in in a real browser: the form, a wrong password, the remembered sign-in cookie,
signing out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit_authenticator as stauth
import yaml
from playwright.sync_api import Page, expect

from tests.browser.conftest import serve_app
from tests.ollama_server import FakeOllamaServer

ASK = "Ask a question about your documents"
PASSWORD = "alice-secret-1"
COOKIE = "rag_login_test"
HAS_COOKIE = f"document.cookie.split('; ').some(c => c.startsWith('{COOKIE}='))"
"""True once the sign-in cookie is set (by streamlit-authenticator's cookie component)."""


def write_config(path: Path, users: dict[str, str]) -> None:
    """A streamlit-authenticator config: ``users`` maps usernames to passwords."""
    usernames = {
        name: {"name": f"{name.title()} Kim", "password": stauth.Hasher.hash(password)}
        for name, password in users.items()
    }
    cookie = {"name": COOKIE, "key": "k" * 32, "expiry_days": 1}
    path.write_text(
        yaml.safe_dump({"credentials": {"usernames": usernames}, "cookie": cookie}),
        encoding="utf-8",
    )


@dataclass
class LoginApp:
    url: str
    config: Path


@pytest.fixture(scope="module")
def login_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoginApp]:
    """The app with sign-in on (RAG_AUTH_CONFIG: the user alice)."""
    data_dir = tmp_path_factory.mktemp("browser-login")
    config = data_dir / "auth.yaml"
    write_config(config, {"alice": PASSWORD})
    with (
        FakeOllamaServer() as ollama,
        serve_app(data_dir, ollama, RAG_AUTH_CONFIG=str(config)) as url,
    ):
        yield LoginApp(url=url, config=config)


def _sign_in(page: Page, password: str) -> None:
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_remembered_sign_out(page: Page, login_app: LoginApp):
    page.goto(login_app.url)
    expect(page.get_by_label("Username", exact=True)).to_be_visible()
    expect(page.get_by_placeholder(ASK)).to_have_count(0)
    expect(page.locator("[data-testid='stSidebarNav']")).to_have_count(0)  # no page menu

    _sign_in(page, "wrong-password")
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()
    expect(page.get_by_placeholder(ASK)).to_have_count(0)

    _sign_in(page, PASSWORD)
    expect(page.get_by_placeholder(ASK)).to_be_visible()
    expect(page.get_by_text("Signed in as Alice Kim")).to_be_visible()
    expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("Documents")
    expect(page.get_by_label("Username", exact=True)).to_have_count(0)
    page.wait_for_function(HAS_COOKIE)

    # another tab of the same browser: the sign-in cookie signs it in without the form
    other = page.context.new_page()
    other.goto(login_app.url)
    expect(other.get_by_placeholder(ASK)).to_be_visible()
    expect(other.get_by_text("Signed in as Alice Kim")).to_be_visible()
    other.close()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username", exact=True)).to_be_visible()
    expect(page.get_by_placeholder(ASK)).to_have_count(0)
    page.wait_for_function(f"!({HAS_COOKIE})")

    # signing out deleted the cookie: a new tab asks again
    again = page.context.new_page()
    again.goto(login_app.url)
    expect(again.get_by_label("Username", exact=True)).to_be_visible()
    expect(again.get_by_placeholder(ASK)).to_have_count(0)


def test_a_user_removed_from_the_config_is_asked_to_sign_in_again(page: Page, login_app: LoginApp):
    page.goto(login_app.url)
    _sign_in(page, PASSWORD)
    expect(page.get_by_text("Signed in as Alice Kim")).to_be_visible()
    page.wait_for_function(HAS_COOKIE)
    context = page.context
    page.close()  # else its next rerun signs alice out and deletes the cookie first
    write_config(login_app.config, {"bob": "bob-secret-2"})  # alice's account is removed
    try:
        other = context.new_page()
        other.goto(login_app.url)  # alice's sign-in cookie is still valid
        expect(other.get_by_text("Your saved sign-in is no longer valid")).to_be_visible()
        expect(other.get_by_label("Username", exact=True)).to_be_visible()
        expect(other.get_by_placeholder(ASK)).to_have_count(0)
    finally:
        write_config(login_app.config, {"alice": PASSWORD})
