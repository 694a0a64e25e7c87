"""Folder sync through the engine: add / change / delete, dry run, bad files, ownership."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

import rag_core.folder_sync as folder_sync
from rag_core.engine import Engine
from rag_core.errors import PermissionDeniedError
from rag_core.folder_sync import SYNC_DB, check_sync_folder, sync_state
from rag_core.index.collections import list_collections
from rag_core.index.files import SUPPORTED_SUFFIXES
from tests.conftest import LSHORT, pdf_pages, settings_for, text_pdf
from tests.rag_core.test_threats import CountingEmbeddings


@pytest.fixture
def engine(tmp_path: Path, embeddings: Embeddings) -> Engine:
    return Engine(settings_for(tmp_path / "data"), CountingEmbeddings(embeddings))


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def folder_files(folder: Path) -> dict[str, str]:
    """The folder's supported files: relative POSIX path -> sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
    }


def collection_docs(engine: Engine) -> dict[str, str]:
    return {d.name: d.sha256 for d in engine.documents()}


def test_sync_after_add_change_and_delete_matches_the_folder(engine: Engine, tmp_path: Path):
    folder = tmp_path / "shared"
    write(folder, "docs/a.txt", "Walruses live in the Arctic and have long tusks.")
    write(folder, "old/a.txt", "Penguins live in the Antarctic and cannot fly.")
    write(folder, "notes.md", "# Otters\n\nSea otters hold hands while they sleep.")
    write(folder, "guide.pdf", pdf_pages(LSHORT, 15, 15))
    first = engine.sync_folder(folder)
    assert first.counts["add"] == 4 and not first.failed
    assert {i.status for i in first.items} == {"indexed"}
    assert collection_docs(engine) == folder_files(folder)  # docs/a.txt and old/a.txt both

    write(folder, "docs/a.txt", "Walruses live in the Arctic; their tusks grow for life.")
    (folder / "notes.md").unlink()
    write(folder, "new/deeper/b.md", "Narwhals have one long spiral tusk.")
    second = engine.sync_folder(folder)
    actions = {i.name: i.action for i in second.items}
    assert actions == {
        "docs/a.txt": "replace",
        "guide.pdf": "unchanged",
        "new/deeper/b.md": "add",
        "notes.md": "remove",
        "old/a.txt": "unchanged",
    }
    assert collection_docs(engine) == folder_files(folder)
    hits = engine.search("How long do walrus tusks grow?", translate=False).citations
    assert "grow for life" in hits[0].text

    for path in [p for p in folder.rglob("*") if p.is_file()]:
        path.unlink()
    third = engine.sync_folder(folder)
    assert third.counts["remove"] == 4
    assert collection_docs(engine) == {}


def test_unchanged_files_are_recognised_by_size_and_mtime_without_reading(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "shared"
    write(folder, "a.txt", "Walruses live in the Arctic.")
    write(folder, "b.md", "Penguins live in the Antarctic.")
    engine.sync_folder(folder)
    embedded = engine.embeddings.texts

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed")

    with monkeypatch.context() as patch:
        patch.setattr(folder_sync, "file_sha256", no_hashing)
        again = engine.sync_folder(folder)
    assert {i.action for i in again.items} == {"unchanged"}

    touched = folder / "a.txt"  # same bytes, new mtime: hashed, still unchanged
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    hashed: list[Path] = []
    real = folder_sync.file_sha256
    monkeypatch.setattr(folder_sync, "file_sha256", lambda p: hashed.append(p) or real(p))
    third = engine.sync_folder(folder)
    assert {i.action for i in third.items} == {"unchanged"} and hashed == [touched]
    assert engine.embeddings.texts == embedded  # nothing embedded again
    monkeypatch.setattr(folder_sync, "file_sha256", no_hashing)
    assert {i.action for i in engine.sync_folder(folder).items} == {"unchanged"}  # mtime kept


def test_dry_run_lists_what_would_happen_and_changes_nothing(engine: Engine, tmp_path: Path):
    folder = tmp_path / "shared"
    write(folder, "keep.txt", "Walruses live in the Arctic.")
    write(folder, "change.txt", "Penguins live in the Antarctic.")
    write(folder, "gone.md", "Otters hold hands.")
    fresh = engine.sync_folder(folder, "fresh-one", dry_run=True)
    assert {i.action for i in fresh.items} == {"add"} and fresh.dry_run
    assert "fresh-one" not in list_collections(engine.settings)  # no collection created
    engine.sync_folder(folder)
    write(folder, "change.txt", "Penguins live in the Antarctic and eat krill.")
    (folder / "gone.md").unlink()
    write(folder, "new.txt", "Narwhals have a tusk.")
    write(folder, "slides.pptx", "not supported")
    docs_before = collection_docs(engine)
    state = sync_state(engine.settings)
    rows_before = state.files("documents", str(folder.resolve()))
    db_before = (engine.settings.data_dir / SYNC_DB).read_bytes()

    plan = engine.sync_folder(folder, dry_run=True)
    assert {i.name: i.action for i in plan.items} == {
        "change.txt": "replace",
        "gone.md": "remove",
        "keep.txt": "unchanged",
        "new.txt": "add",
        "slides.pptx": "unsupported",
    }
    assert all(i.status == "" for i in plan.items)
    assert collection_docs(engine) == docs_before
    assert state.files("documents", str(folder.resolve())) == rows_before
    assert (engine.settings.data_dir / SYNC_DB).read_bytes() == db_before


def test_documents_not_from_the_folder_survive_and_same_names_are_conflicts(
    engine: Engine, tmp_path: Path
):
    manual = engine.ingest("a.txt", b"Uploaded by hand: manatees graze on sea grass.")
    assert manual.status == "indexed"
    other = tmp_path / "other"
    write(other, "other.txt", "From another folder: seals sleep in the water.")
    engine.sync_folder(other)
    folder = tmp_path / "shared"
    write(folder, "a.txt", "From the folder: walruses live in the Arctic.")  # same name
    write(folder, "other.txt", "From this folder: dolphins sleep with one eye open.")
    write(folder, "mine.txt", "From this folder: narwhals have a tusk.")
    report = engine.sync_folder(folder)
    by_name = {i.name: i for i in report.items}
    assert by_name["a.txt"].action == by_name["other.txt"].action == "skipped"
    assert by_name["a.txt"].code == "conflict" and by_name["mine.txt"].status == "indexed"
    docs = collection_docs(engine)
    assert docs["a.txt"] == manual.sha256  # the hand upload was not replaced
    assert docs["other.txt"] == folder_files(other)["other.txt"]

    for path in folder.iterdir():
        path.unlink()
    engine.sync_folder(folder)
    assert collection_docs(engine) == {
        "a.txt": manual.sha256,
        "other.txt": folder_files(other)["other.txt"],
    }


def test_bad_and_unsupported_files_are_reported_and_the_others_ingested(
    engine: Engine, tmp_path: Path
):
    folder = tmp_path / "shared"
    outside = write(tmp_path / "secret", "passwords.txt", "root password: hunter2")
    write(folder, "good.txt", "Walruses live in the Arctic.")
    write(folder, "good.pdf", text_pdf(["Narwhals have one long tusk."]))
    write(folder, "empty.txt", b"")
    write(folder, "renamed.pdf", "this is a text file with a .pdf name")
    write(folder, "damaged.pdf", text_pdf(["Seals sleep in the water."])[:200])
    write(folder, "latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1") + b"\x81\xfe\xff")
    write(folder, "slides.pptx", "not supported")
    write(folder, "locked.pdf", text_pdf(["Secret."], user_password="pw-123456"))
    (folder / "leak.txt").symlink_to(outside)
    (folder / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (folder / "inside.txt").symlink_to(folder / "good.txt")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    report = engine.sync_folder(folder)
    by_name = {i.name: i for i in report.items}
    assert by_name["good.txt"].status == by_name["good.pdf"].status == "indexed"
    assert by_name["inside.txt"].status == "duplicate"  # a link inside: same content
    assert by_name["inside.txt"].indexed_as == "good.txt"
    assert by_name["slides.pptx"].action == "unsupported"
    assert by_name["empty.txt"].code == "empty"
    assert by_name["leak.txt"].code == "symlink_outside"
    assert by_name["dangling.txt"].code == "unreadable"
    assert by_name["loop"].code == "symlink_folder"
    for name in ("renamed.pdf", "damaged.pdf", "latin1.txt", "locked.pdf"):
        assert by_name[name].status == "failed" and by_name[name].error, name
    assert "not a PDF" in by_name["renamed.pdf"].error
    assert "password" in by_name["locked.pdf"].error
    assert sorted(collection_docs(engine)) == ["good.pdf", "good.txt"]
    assert "hunter2" not in " ".join(c.text for c in engine.search("root password").citations)
    # fixed files go in on the next sync, the still-bad ones are reported again
    write(folder, "renamed.pdf", text_pdf(["Seals sleep in the water."]))
    again = {i.name: i for i in engine.sync_folder(folder).items}
    assert again["renamed.pdf"].status == "indexed" and again["damaged.pdf"].status == "failed"


def test_moved_and_duplicate_files_end_under_their_own_names(engine: Engine, tmp_path: Path):
    folder = tmp_path / "shared"
    write(folder, "a.txt", "Walruses live in the Arctic.")
    write(folder, "copy.txt", "Walruses live in the Arctic.")
    first = {i.name: i for i in engine.sync_folder(folder).items}
    assert first["a.txt"].status == "indexed" and first["copy.txt"].status == "duplicate"
    (folder / "a.txt").rename(folder / "moved.txt")  # copy.txt's content holder goes away
    engine.sync_folder(folder)
    docs = collection_docs(engine)
    assert list(docs) in (["copy.txt"], ["moved.txt"])  # one document per content
    assert set(docs.values()) == set(folder_files(folder).values())
    (folder / "copy.txt").unlink()
    (folder / "moved.txt").unlink()
    write(folder, "b.txt", "Penguins live in the Antarctic.")
    engine.sync_folder(folder)
    assert collection_docs(engine) == folder_files(folder)


def test_server_folders_only_under_the_allowed_roots(tmp_path: Path):
    allowed = tmp_path / "allowed"
    (allowed / "team").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (allowed / "escape").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    roots = settings_for(tmp_path / "data", sync_roots=str(allowed))
    assert check_sync_folder(roots, allowed / "team") == (allowed / "team").resolve()
    for refused in (tmp_path / "elsewhere", allowed / "escape", allowed / ".." / "elsewhere"):
        with pytest.raises(PermissionDeniedError):
            check_sync_folder(roots, refused)
    with pytest.raises(PermissionDeniedError):
        check_sync_folder(roots, "team")  # relative: refused
    signed_in = settings_for(tmp_path / "data", auth_config=str(tmp_path / "auth.yaml"))
    with pytest.raises(PermissionDeniedError, match="RAG_SYNC_ROOTS"):
        check_sync_folder(signed_in, allowed / "team")
    local = settings_for(tmp_path / "data")  # no sign-in, no roots: the local user's folders
    assert check_sync_folder(local, tmp_path / "elsewhere") == (tmp_path / "elsewhere").resolve()


def test_saved_folder_is_synced_and_its_report_kept(tmp_path: Path, embeddings: Embeddings):
    allowed = tmp_path / "allowed"
    folder = allowed / "team"
    write(folder, "a.txt", "Walruses live in the Arctic.")
    engine = Engine(settings_for(tmp_path / "data", sync_roots=str(allowed)), embeddings)
    with pytest.raises(PermissionDeniedError):
        engine.set_sync_folder(tmp_path, "team-docs")
    assert engine.sync_folder_setting("team-docs") == (None, None)
    assert engine.set_sync_folder(folder, "team-docs") == str(folder.resolve())
    report = engine.sync_saved_folder("team-docs")
    assert report is not None and [d.name for d in engine.documents("team-docs")] == ["a.txt"]
    saved, last = engine.sync_folder_setting("team-docs")
    assert saved == str(folder.resolve()) and last is not None
    assert [(i.name, i.status) for i in last.items] == [("a.txt", "indexed")]
    assert engine.saved_sync_folders() == {"team-docs": folder.resolve()}
    engine.delete_collection("team-docs")
    assert engine.saved_sync_folders() == {}


def test_hostile_file_names_are_cleaned_for_display_and_still_read(engine: Engine, tmp_path: Path):
    folder = tmp_path / "shared"
    write(folder, "sub\u202e/re\u202eport\x07.txt", "Walruses live in the Arctic.")
    write(folder, "sub/report.txt", "Penguins live in the Antarctic.")  # the same, cleaned
    write(folder, "<img src=x onerror=alert(1)>.md", "Otters hold hands.")
    report = engine.sync_folder(folder)
    by_status = sorted((i.name, i.action, i.status) for i in report.items)
    assert by_status == [
        ("<img src=x onerror=alert(1)>.md", "add", "indexed"),
        ("sub/report.txt", "add", "indexed"),
        ("sub/report.txt", "skipped", ""),  # reported, never ingested over the other
    ]
    assert sorted(collection_docs(engine)) == ["<img src=x onerror=alert(1)>.md", "sub/report.txt"]
    assert all("\u202e" not in i.name and "\x07" not in i.name for i in report.items)
