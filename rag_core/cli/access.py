"""Command line for who may do what: API keys and collection members.

* ``keys create --user NAME``: make an API key for a user and print it (the only time it
  is shown; only its SHA-256 is stored).
* ``keys list [--user NAME] [--json]``: the keys (id, user, created, last used, revoked).
* ``keys revoke KEY_ID``: revoke a key for good.
* ``share COLLECTION MEMBER --role reader|editor|owner [--group]``: give a user (or a group
  of the sign-in config) a role; ``owner`` hands the collection over.
* ``share COLLECTION MEMBER --remove [--group]``: take the role away.
* ``members COLLECTION [--json]`` (or ``share COLLECTION --list``): the owner and members.

These run as the owner of the data directory (no permission check) and need no embedding
model. See :mod:`rag_core.access` for the rules.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from pydantic import ValidationError

from rag_core.access import AccessControl, Member, Role
from rag_core.cli.output import err_line, out_line
from rag_core.config import build_settings


def add_access_commands(sub: argparse._SubParsersAction) -> None:
    """Add the ``keys``, ``share`` and ``members`` commands to the CLI's subparsers."""
    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make an API key for a user (printed once)")
    create.add_argument("--user", required=True, help="username (of the sign-in config)")
    listing = keys_sub.add_parser("list", help="list the API keys (never the keys themselves)")
    listing.add_argument("--user", help="only this user's keys")
    listing.add_argument("--json", action="store_true")
    revoke = keys_sub.add_parser("revoke", help="revoke an API key for good")
    revoke.add_argument("key_id", help="the key's id (see keys list)")

    share = sub.add_parser("share", help="give a user or group a role in a collection")
    share.add_argument("share_collection", metavar="COLLECTION")
    share.add_argument("member", nargs="?", metavar="MEMBER", help="username or group name")
    what = share.add_mutually_exclusive_group(required=True)
    what.add_argument("--role", choices=[str(r) for r in Role], help="the role to give")
    what.add_argument("--remove", action="store_true", help="take the member's role away")
    what.add_argument("--list", action="store_true", help="list the members")
    share.add_argument("--group", action="store_true", help="MEMBER is a group")
    share.add_argument("--json", action="store_true", help="with --list: as JSON")

    members = sub.add_parser("members", help="list a collection's owner and members")
    members.add_argument("share_collection", metavar="COLLECTION")
    members.add_argument("--json", action="store_true")


def _access(args: argparse.Namespace) -> AccessControl:
    return AccessControl(build_settings(data_dir=args.data_dir))


def _cmd_keys(args: argparse.Namespace) -> int:
    access = _access(args)
    if args.keys_command == "create":
        key = access.create_key(args.user)
        info = access.identify(key)
        assert info is not None  # made just above
        err_line(f"API key {info.id} for {info.user} (shown once: keep it secret):")
        out_line(key)
        return 0
    if args.keys_command == "revoke":
        if not access.revoke_key(args.key_id):
            err_line(f"no active API key with the id {args.key_id!r}")
            return 1
        out_line(f"revoked API key {args.key_id}")
        return 0
    infos = access.keys(args.user)
    if args.json:
        out_line(json.dumps([k.to_dict() for k in infos], ensure_ascii=False))
        return 0
    if not infos:
        out_line("no API keys")
    for k in infos:
        state = "revoked" if k.revoked else f"last used {k.last_used or 'never'}"
        out_line(f"{k.id}\t{k.user}\tcreated {k.created_at}\t{state}")
    return 0


def _print_members(members: list[Member], as_json: bool, collection: str) -> None:
    if as_json:
        out_line(json.dumps([m.to_dict() for m in members], ensure_ascii=False))
        return
    if not members:
        out_line(f"'{collection}' has no owner: every signed-in user may read and write it")
    for m in members:
        out_line(f"{m.name}\t{m.role}" + ("\tgroup" if m.group else ""))


def _cmd_share(args: argparse.Namespace) -> int:
    access, collection = _access(args), args.share_collection
    if args.list:
        _print_members(access.members(collection), args.json, collection)
        return 0
    if not args.member:
        err_line("error: name the MEMBER (a username, or a group with --group)")
        return 2
    kind = "group" if args.group else "user"
    if args.remove:
        if not access.unshare(collection, args.member, group=args.group):
            err_line(f"{kind} {args.member} has no role in '{collection}'")
            return 1
        out_line(f"removed {kind} {args.member.lower()} from '{collection}'")
        return 0
    if not access.in_store(collection):
        err_line(f"no collection named {collection!r}")
        return 1
    role = Role(args.role)
    access.share(collection, args.member, role, group=args.group)
    out_line(f"{kind} {args.member.lower()} is now {role} of '{collection}'")
    if role is not Role.OWNER and access.owner(collection) is None:
        err_line(
            f"note: '{collection}' has no owner, so every signed-in user may read and write "
            "it: make someone its owner (--role owner) for the roles to apply"
        )
    if not access.enabled:
        err_line("note: sign-in is off (RAG_AUTH_CONFIG unset): roles apply once it is on")
    return 0


def _cmd_members(args: argparse.Namespace) -> int:
    collection = args.share_collection
    _print_members(_access(args).members(collection), args.json, collection)
    return 0


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ValidationError:
            raise  # a bad RAG_* setting: main() reports it
        except ValueError as exc:  # a refused name or role (the message says why)
            err_line(f"error: {exc}")
            return 2

    return run


ACCESS_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "keys": _guarded(_cmd_keys),
    "share": _guarded(_cmd_share),
    "members": _guarded(_cmd_members),
}
"""The commands by name; each takes the parsed arguments and returns the exit code."""

__all__ = ["ACCESS_COMMANDS", "add_access_commands"]
