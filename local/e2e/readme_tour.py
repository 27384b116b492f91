"""Runs the README's API tour as a reader would: every ```sh block of its
"Trying the API" section, in order, in one POSIX shell (sh), against a fresh
local server, with only curl and python3. Every curl must succeed (a 4xx or
5xx fails the tour), so the README cannot drift from the API.

    python3 local/e2e/readme_tour.py http://127.0.0.1:8767 [README.md]

The blocks name localhost:8000, where `cargo run -p local` listens; the tour
points them at the given server instead. Nothing else is changed.
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile

SECTION = "## Trying the API"


def tour_blocks(readme):
    text = pathlib.Path(readme).read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end > 0 else len(text)]
    return re.findall(r"^```sh\n(.*?)^```", section, flags=re.S | re.M)


def main():
    base = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    readme = sys.argv[2] if len(sys.argv) > 2 else str(pathlib.Path(__file__).resolve().parents[2] / "README.md")
    blocks = tour_blocks(readme)
    if len(blocks) < 5:
        sys.exit(f"only {len(blocks)} sh blocks under '{SECTION}' in {readme}")
    for number, block in enumerate(blocks, 1):
        for placeholder in ["…", "...", "<", "TODO"]:
            for line in block.splitlines():
                if placeholder in line.split("#")[0] and "<<" not in line and "->" not in line:
                    sys.exit(f"block {number} has a placeholder {placeholder!r}: {line}")
    host = base.split("://", 1)[-1]
    script = [
        "set -eu",
        # What the reader types, with failures made loud: an HTTP error fails the
        # command (and so the tour); answers still print.
        'curl() { command curl --fail-with-body --silent --show-error "$@"; echo; }',
    ]
    for number, block in enumerate(blocks, 1):
        script.append(f"echo '--- README block {number}' >&2")
        script.append(block.replace("localhost:8000", host))
    script.append("echo '--- the tour ran to its end' >&2")
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write("\n".join(script) + "\n")
        path = f.name
    log = pathlib.Path(tempfile.gettempdir()) / "readme-tour.log"
    # A pipe, not the log file: `tee /dev/stderr` reopens (and so would truncate) a file.
    done = subprocess.run(["sh", "-x", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ)
    text = done.stdout.decode("utf-8", "replace")
    log.write_text(text)
    if done.returncode != 0 or "the tour ran to its end" not in text:
        print(text[-6000:])
        print(f"README tour failed (exit {done.returncode}); full log: {log}")
        sys.exit(1)
    print(f"README tour: {len(blocks)} blocks, {text.count('+ command curl')} curl calls, all answered 2xx (log: {log})")
    print(f"{len(blocks)} passed, 0 failed")


if __name__ == "__main__":
    main()
