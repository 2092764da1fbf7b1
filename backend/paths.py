"""Where the repository's data files live (the package is installed editable from the repo)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
VIEWS_DIR = SQL_DIR / "views"
CONFIG_DIR = REPO_ROOT / "config"
DEFAULT_POLICY_PATH = CONFIG_DIR / "policy.yaml"
SAMPLE_DATA_DIR = REPO_ROOT / "data"
SHARED_DIR = REPO_ROOT.parent / "shared"
