"""The man pages come from the argparse definitions: every flag of every command is in its page,
and the roff is well formed enough for man(1) to render without warnings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from vdsm_net.ops.manpage import main, pages, render


def test_every_flag_is_in_its_page() -> None:
    for page in pages():
        text = render(page)
        assert text.startswith(f".TH {page.name.upper()} {page.section} ")
        for parser in page.parsers:
            for action in parser._actions:
                for flag in action.option_strings:
                    assert flag.replace("-", "\\-") in text, (page.name, flag)


@pytest.mark.skipif(shutil.which("man") is None, reason="no man(1) on this machine")
def test_man_renders_them_without_warnings(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    for path in sorted(tmp_path.iterdir()):
        done = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True,
                              text=True, check=False, timeout=60,
                              env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0 and done.stderr == "", (path, done.stderr)
        assert "SYNOPSIS" in done.stdout
