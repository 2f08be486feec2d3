"""Shared pytest set-up: the repository's tests/ directory is importable as ``tests``."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
