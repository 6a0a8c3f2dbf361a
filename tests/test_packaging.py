"""The wheel: only ``servicebench`` at the top level, the console script, the channel entry
points; installed into a fresh virtualenv it runs a short sandbox study and the README's
Python example."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BUILTIN = {"email", "webform", "phone", "chat", "visit", "mastodon", "bluesky", "x"}


def readme_python_example() -> str:
    section = README.split("## Using servicebench from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section holds one Python example"
    return blocks[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # build from a copy of the tracked files, so the checkout gets no build/ folder and
    # nothing untracked can slip into the wheel
    src = tmp_path_factory.mktemp("src")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(out), str(src)], check=True, timeout=300)
    (found,) = out.glob("servicebench-*.whl")
    return found


def test_wheel_holds_only_the_servicebench_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        top = {n.split("/", 1)[0] for n in names if "/" in n}
        meta_dir = next(t for t in top if t.endswith(".dist-info"))
        entry_points = zf.read(f"{meta_dir}/entry_points.txt").decode()
    assert top - {meta_dir} == {"servicebench"}
    for sub in ("probes/email/__init__.py", "probes/social/mastodon.py",
                "probes/webform/__init__.py", "report_templates/report.html",
                "report_templates/report.css", "sandbox/forms/cf7.html",
                "init_template/study.de.yaml", "init_template/sandbox-demo.yaml",
                "classify/weights.json", "classify/core.py"):
        assert f"servicebench/{sub}" in names, sub
    assert "servicebench = servicebench.cli:main" in entry_points
    declared = set(re.findall(r"^(\w+) = servicebench\.probes\.", entry_points, re.M))
    assert declared == BUILTIN


@pytest.mark.slow
def test_wheel_in_fresh_venv_runs_a_sandbox_study_and_the_readme_example(
        wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py, exe = env_dir / "bin" / "python", env_dir / "bin" / "servicebench"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True, timeout=900)
    # away from the repository, so nothing is imported from the source tree
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SERVICEBENCH_CLOCK")}
    env["PATH"] = f"{env_dir / 'bin'}:{env.get('PATH', '')}"

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout)

    top = run(str(py), "-c", "import importlib.metadata as m, servicebench; "
              "print(servicebench.__file__); "
              "print(sorted(e.name for e in m.entry_points(group='servicebench.channels')))")
    assert top.returncode == 0, top.stderr
    assert str(env_dir) in top.stdout and str(ROOT) not in top.stdout
    for name in BUILTIN:
        assert repr(name) in top.stdout
    for gone in ("benchmark", "probes", "report_templates"):
        assert run(str(py), "-c", f"import {gone}").returncode != 0, gone

    assert run(str(exe), "--help").returncode == 0
    demo = run(str(exe), "demo", "--no-forms", "--speed", "40000", "--out", "demo-output",
               timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert (work / "demo-output" / "report.pdf").read_bytes().startswith(b"%PDF")

    example = run(str(py), "-c", readme_python_example())
    assert example.returncode == 0, example.stderr
    assert (work / "demo-output" / "from-python.html").stat().st_size > 1000
    assert (work / "demo-output" / "from-python" / "companies.csv").exists()
    assert "sent_at_local" in example.stdout
