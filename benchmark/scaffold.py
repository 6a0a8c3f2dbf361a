"""``servicebench init``: a commented starter study."""

from __future__ import annotations

from pathlib import Path

from .errors import StudyError
from .study import STUDY_FILE

TEMPLATES = Path(__file__).parent / "init_template"


def write_starter_study(folder: Path, language: str = "en", force: bool = False) -> Path:
    folder = Path(folder)
    target = folder / STUDY_FILE
    if folder.exists() and not folder.is_dir():
        raise StudyError(f"{folder} exists and is a file, not a folder; give a new folder name "
                         "(init writes study.yaml and .env into it)")
    if target.exists() and not force:
        raise StudyError(f"{target} exists already; use --force to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text((TEMPLATES / f"study.{language}.yaml").read_text(encoding="utf-8"),
                      encoding="utf-8")
    env = folder / ".env"
    if not env.exists():
        env.write_text("# secrets for study.yaml; keep this file out of version control\n"
                       "SMTP_USER=\nSMTP_PASSWORD=\nIMAP_USER=\nIMAP_PASSWORD=\n",
                       encoding="utf-8")
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(".env\nstudy.db*\n.servicebench.lock\nlogs/\n", encoding="utf-8")
    return target
