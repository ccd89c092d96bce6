"""The CLI's command table: ``twinbench --help`` lists every command without importing any of them."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from twinbench.__main__ import COMMAND_MODULES, COMMANDS, build_parser


def _registered() -> dict[str, str]:
    helps: dict[str, str] = {}
    for name in COMMAND_MODULES:
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(subparsers)
        helps.update({a.dest: a.help for a in subparsers._choices_actions})
    return helps


def test_the_table_lists_every_command_with_its_modules_own_help() -> None:
    assert {command: help_text for command, _, help_text in COMMANDS} == _registered()


def test_help_imports_no_command_module() -> None:
    code = ("import sys\nfrom twinbench.__main__ import build_parser\n"
            "build_parser(['--help'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('twinbench.') and m not in ALLOWED"
            " or m.split('.')[0] in ('numpy', 'numba', 'aiohttp')))")
    # The parser itself (argparse only, for one-line usage errors) is all --help may import.
    code = code.replace("ALLOWED", repr(("twinbench.__main__", "twinbench.cli")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_naming_a_command_registers_only_its_module() -> None:
    parser = build_parser(["bench-load", "--repeats", "3"])
    assert parser.parse_args(["bench-load", "--repeats", "3"]).repeats == 3
    assert callable(parser.parse_args(["bench-load"]).func)
