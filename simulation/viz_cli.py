"""The ``slsim-viz`` command: serve the browser app (``simulation/app.py``) with Solara.

    slsim-viz                  # http://127.0.0.1:8765/
    slsim-viz --port 0         # any free port; the URL is printed
    slsim-viz --systems DIR    # both views' system menus offer your system files too
    slsim-viz --ensembles DIR  # where the ensemble view keeps its sweeps (outputs/ensembles)

Your system files are ``DIR/ics/*.yaml`` or, if DIR has no ``ics/``, ``DIR/*.yaml``
(:func:`simulation.config.system_files`); the live view and the ensemble view find the same
ones, and no system file comes from anywhere else. Each is checked when the server starts (an
error names the file and the key); an ensemble checks its file again before it starts, and its
sweep runs the copy it keeps in its own folder (``<run folder>/configs/ics/``).

It listens on the host given here (127.0.0.1 unless ``--host`` says otherwise), never on whatever
``$HOST`` or ``$SOLARA_HOST`` hold, and sends no telemetry.

Solara's page loads its scripts and styles (npm packages) through an asset cache in the
environment, which Solara fills from a public CDN on first use. Where that CDN cannot be reached
but the npm registry can, ``slsim-viz`` fills the cache with ``npm pack`` before it starts.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

APP = "simulation.app_ensemble"  # the live view (simulation.app) and the ensemble view
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
NPM_TIMEOUT_S = 600


def free_port(host: str) -> int:
    """A port on ``host`` that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def page_assets() -> list[str]:
    """The npm packages (``name@version``) that Solara's page loads through its asset cache.

    Read from Solara's own page template, so a Solara upgrade brings its new versions along; of
    the two front-end bundles there, only the one for the installed ipyvue is needed.
    """
    import ipyvue
    import solara
    from solara.server import settings  # not solara.server.server: it would load the app now

    template = (Path(solara.__file__).parent / "server" / "templates" / "solara.html.j2")
    packages = set(re.findall(r"\{\{\s*cdn\s*\}\}/((?:@[^/\s]+/)?[^/@\s]+@[^/\s]+)/",
                              template.read_text()))
    vue3 = ipyvue.__version__.startswith("3")  # as solara.server.server decides
    unused_bundle = "solara-vuetify-app@" if vue3 else "solara-vuetify3-app@"
    packages = {package for package in packages if unused_bundle not in package}
    if settings.assets.fontawesome_enabled:
        packages.add(settings.assets.fontawesome_path.strip("/").split("/")[0])
    return sorted(packages)


def missing_page_assets(cache: Path) -> list[str]:
    return [package for package in page_assets() if not (cache / package).is_dir()]


def install_page_assets(cache: Path, packages: list[str]) -> None:
    """Unpack each npm package into ``cache/<name>@<version>/``, the layout Solara serves from.

    Raises ``RuntimeError`` when npm is missing or fails.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([npm, "pack", "--json", "--silent", *packages], cwd=scratch,
                              capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"npm pack failed: {done.stderr.strip()[-500:]}")
        for package in json.loads(done.stdout):
            target = cache / f"{package['name']}@{package['version']}"
            unpacked = Path(scratch) / "unpacked" / target.name
            with tarfile.open(Path(scratch) / package["filename"]) as tarball:
                tarball.extractall(unpacked, filter="data")
            target.parent.mkdir(parents=True, exist_ok=True)
            # npm tarballs hold everything under one top folder, "package/" as a rule.
            (top,) = unpacked.iterdir()
            shutil.move(top, target)


def ensure_page_assets() -> None:
    """Fill Solara's asset cache from the npm registry if it lacks what the page loads."""
    import solara.settings
    from solara.server import settings

    if not solara.settings.assets.proxy:  # the page then loads from the CDN itself
        return
    cache = Path(settings.assets.proxy_cache_dir)
    missing = missing_page_assets(cache)
    if not missing:
        return
    print(f"slsim-viz: fetching the page's scripts with npm: {', '.join(missing)}", flush=True)
    try:
        install_page_assets(cache, missing)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"slsim-viz: could not fetch them ({exc}); Solara will try its CDN instead",
              file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="slsim-viz",
        description="Watch shared leadership emerge: the baseline and a scenario side by side, "
                    "in the browser.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to serve on (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"interface to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--systems", type=Path, metavar="DIR",
                        help="a folder of your own system files (DIR/ics/*.yaml, or DIR/*.yaml "
                             "if there is no DIR/ics/), each checked now and offered in the "
                             "system menus of the live and the ensemble view")
    parser.add_argument("--ensembles", type=Path, metavar="DIR",
                        help="folder the ensemble view keeps its sweeps in, one folder each "
                             "(default outputs/ensembles)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port = {args.port} is outside the allowed range [0, 65535]")
    if args.systems is not None:
        problem = check_system_folder(args.systems)
        if problem:
            parser.error(problem)
    return args


def check_system_folder(folder: Path) -> str | None:
    """Why the folder of system files cannot be served (None if it can): it is missing, holds
    no ``.yaml`` file, or a file fails validation (the error names the file and the field)."""
    from .config import build_config, system_files
    from .params import ConfigError

    if not folder.is_dir():
        return f"--systems {folder}: no such folder"
    files = system_files(folder)
    if not files:
        return f"--systems {folder}: no system files (*.yaml) in {folder}/ics/ or {folder}/"
    for path in files.values():
        try:
            build_config(ics=str(path), weeks=1)
        except ConfigError as exc:
            return f"--systems: {path}: {exc}"
    return None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        from solara.__main__ import cli
        from solara.server import settings
    except ImportError:
        sys.exit("slsim-viz: the browser app needs the 'viz' extra: pip install -e '.[viz]'")
    port = args.port or free_port(args.host)
    if not port_is_free(args.host, port):
        sys.exit(f"slsim-viz: port {port} on {args.host} is in use; choose another with "
                 "--port N, or --port 0 for any free port")
    settings.telemetry.mixpanel_enable = False
    if args.systems is not None:  # the app reads it when it builds its menu
        from .config import SYSTEMS_DIR_ENV

        os.environ[SYSTEMS_DIR_ENV] = str(args.systems.resolve())
    if args.ensembles is not None:
        from .ensemble import ENSEMBLES_DIR_ENV

        os.environ[ENSEMBLES_DIR_ENV] = str(args.ensembles.resolve())
    ensure_page_assets()
    print(f"slsim-viz: serving the app at http://{args.host}:{port}/ (Ctrl+C stops it)",
          flush=True)
    cli.main(["run", APP, "--host", args.host, "--port", str(port), "--production",
              "--no-open", "--no-check-version"], prog_name="slsim-viz")


if __name__ == "__main__":
    main()
