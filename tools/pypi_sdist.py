#!/usr/bin/env python3
"""Fetch one source archive from the Python package index pip is configured with,
check its sha256 and unpack it.  For packages pip cannot install (micropython-lib's
bare sdists, e.g. micropython-umqtt.simple).

    tools/pypi_sdist.py PROJECT FILENAME SHA256 DEST

The index URL comes from pip itself (`pip config`, else pip's default): no registry
host is named here.
"""

import hashlib
import json
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path


def index_url():
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.split(".")[-1] == "index-url":
            return value.strip().strip("'\"").split()[0]
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def main():
    project, filename, sha256, dest = sys.argv[1:5]
    dest = Path(dest)
    archive = dest / filename
    if not (archive.exists() and hashlib.sha256(archive.read_bytes()).hexdigest() == sha256):
        request = urllib.request.Request(
            f"{index_url().rstrip('/')}/{project}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        )
        files = json.load(urllib.request.urlopen(request, timeout=60))["files"]
        match = [f for f in files if f["filename"] == filename]
        if not match:
            sys.exit(f"pypi_sdist: {filename} is not in the index's {project}")
        data = urllib.request.urlopen(match[0]["url"], timeout=120).read()
        if hashlib.sha256(data).hexdigest() != sha256:
            sys.exit(f"pypi_sdist: {filename}: sha256 mismatch")
        dest.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


if __name__ == "__main__":
    main()
