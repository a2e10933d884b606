import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_refuses_a_python_older_than_3_12_with_a_one_line_message(tmp_path):
    # A stand-in interpreter that reports Python 3.11.
    old_python = tmp_path / "python3.11"
    old_python.write_text('#!/bin/sh\nexec python3 -c "import sys; sys.exit(1)"\n')
    old_python.chmod(0o755)

    result = subprocess.run(  # noqa: S603 - make with our own Makefile
        ["make", "--no-print-directory", "check-python", f"PYTHON={old_python}"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "SERS needs Python 3.12 or newer" in result.stdout
    assert "pyenv install 3.13" in result.stdout
