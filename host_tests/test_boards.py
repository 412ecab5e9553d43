"""Board folders: each manifest.py resolves with MicroPython's own tools/manifestfile.py
(against the port's real manifest and extmod/asyncio of the MicroPython source) and
freezes exactly the application's modules; `make firmware` says clearly what it lacks."""

import ast
import os
import subprocess
import sys

import pytest

from conftest import ROOT

MP_DIR = ROOT / "build" / "micropython-1.25.0"
LIB = ROOT / "firmware" / "lib"
BOARDS = {"lolin_d1_mini_pro": "esp8266", "mhet_esp32minikit": "esp32"}
# Only on CPython: no MicroPython firmware can import these.
CPYTHON_ONLY = {"cryptography"}


def imports(path, package):
    """The modules a source file imports (relative ones made absolute), and the modules
    named in a BACKENDS table (imported by name at run time)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([package, *([base] if base else [])])
                found.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
            found.add(base)
        elif isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "BACKENDS" for t in node.targets
        ):
            found.update(pair.elts[1].value for pair in node.value.elts)
    return found


def module_file(name):
    parts = name.split(".")
    for candidate in (
        LIB.joinpath(*parts).with_suffix(".py"),
        LIB.joinpath(*parts, "__init__.py"),
    ):
        if candidate.exists():
            return candidate
    return None


def cpython_only(path, package):
    return any(name.split(".")[0] in CPYTHON_ONLY for name in imports(path, package))


def application_modules():
    """(files under firmware/lib the firmware needs, the modules it needs from the
    firmware image), from main.py's imports, transitively."""
    needed, external = set(), set()
    todo = [(ROOT / "firmware" / "main.py", "")]
    while todo:
        path, package = todo.pop()
        for name in imports(path, package):
            file = module_file(name)
            if file is None:
                if not (LIB / name.split(".")[0]).is_dir():
                    external.add(name)
                continue
            parent = name if file.name == "__init__.py" else name.rpartition(".")[0]
            if cpython_only(file, parent):
                continue
            for found, its_package in ((file, parent), (module_file(name.split(".")[0]), None)):
                relative = found.relative_to(LIB).as_posix()
                if relative not in needed:
                    needed.add(relative)
                    todo.append((found, its_package or name.split(".")[0]))
    return needed, external


def resolve(board, mcu):
    """[(kind, target path)] of the board's manifest, and the micropython-lib packages it
    requires: the lib/micropython-lib submodule is empty in Debian's source, so require()
    is recorded here instead of resolved (everything else resolves for real)."""
    sys.path.insert(0, str(MP_DIR / "tools"))
    try:
        import manifestfile
    finally:
        sys.path.pop(0)
    path_vars = {
        "MPY_DIR": str(MP_DIR),
        "PORT_DIR": str(MP_DIR / "ports" / mcu),
        "BOARD_DIR": str(ROOT / "boards" / board),
        "MPY_LIB_DIR": str(MP_DIR / "lib" / "micropython-lib"),
    }
    manifest = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, path_vars)
    required = []
    manifest.require = lambda name, **kw: required.append(name)
    manifest.execute(str(ROOT / "boards" / board / "manifest.py"))
    return [(f.kind, f.target_path) for f in manifest.files()], required


@pytest.mark.parametrize("board", BOARDS)
def test_the_board_manifest_freezes_exactly_the_application(board):
    mcu = BOARDS[board]
    files, required = resolve(board, mcu)
    targets = {target for _, target in files}
    needed, external = application_modules()
    ours = {t for t in targets if t.split("/")[0] in ("smarty", "smartyreader")}
    assert ours == needed, (sorted(ours - needed), sorted(needed - ours))
    assert "smarty/gcm_cpython.py" not in targets and "main.py" not in targets
    # what the application takes from the firmware: asyncio (extmod) and umqtt.simple
    assert {"asyncio", "umqtt.simple"} <= external
    assert "asyncio/core.py" in targets and "umqtt.simple" in required
    # the port's own frozen modules are kept (the port manifest is included)
    port_modules = {p.name for p in (MP_DIR / "ports" / mcu / "modules").glob("*.py")}
    assert port_modules and port_modules <= targets


@pytest.mark.parametrize("board", BOARDS)
def test_the_board_folder_has_what_a_custom_firmware_build_needs(board):
    folder = ROOT / "boards" / board
    build = "mpconfigboard.mk" if BOARDS[board] == "esp8266" else "mpconfigboard.cmake"
    for name in ("board.json", "manifest.py", "mpconfigboard.h", build):
        assert (folder / name).is_file(), name
    text = (folder / build).read_text()
    assert "USER_C_MODULES" in text and "manifest.py" in text
    target = "cmodules" if BOARDS[board] == "esp8266" else "cmodules/micropython.cmake"
    assert (ROOT / target).exists()
    if BOARDS[board] == "esp32":  # no sdkconfig.ble: NimBLE would be built unconfigured
        assert "sdkconfig.ble" not in text
        assert "#define MICROPY_PY_BLUETOOTH (0)" in (folder / "mpconfigboard.h").read_text()


def make_firmware(board, **variables):
    env = {k: v for k, v in os.environ.items() if k not in ("IDF_PATH", "ESP_SDK")}
    proc = subprocess.run(
        ["make", "-s", "firmware", f"BOARD={board}", f"MICROPY_DIR={MP_DIR}"]
        + [f"{k}={v}" for k, v in variables.items()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_the_esp32_image_says_what_is_missing():
    code, out = make_firmware("mhet_esp32minikit")
    assert code != 0 and "make firmware: mhet_esp32minikit needs ESP-IDF" in out


def test_the_esp8266_image_checks_its_sources(tmp_path):
    code, out = make_firmware("lolin_d1_mini_pro", SOURCES=tmp_path / "none")
    assert code != 0 and "no source cache at" in out and "README" in out
    # an archive that is not the pinned one: refused before anything is unpacked
    sources = tmp_path / "sources"
    sources.mkdir()
    for line in (ROOT / "tools" / "sources.sha256").read_text().splitlines():
        (sources / line.split()[1]).write_bytes(b"not the archive")
    code, out = make_firmware("lolin_d1_mini_pro", SOURCES=sources)
    assert code != 0 and "does not match its pinned sha256" in out


def test_make_firmware_names_the_boards():
    proc = subprocess.run(
        ["make", "-s", "firmware", "BOARD=esp01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "no board esp01" in out
    assert "lolin_d1_mini_pro" in out and "mhet_esp32minikit" in out
