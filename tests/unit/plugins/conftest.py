"""Make the repository importable as ansible_collections.glint.glance (as Ansible
imports it), through a symlink in a temporary collections directory."""
import atexit
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_collections = Path(tempfile.mkdtemp(prefix='glint-collections-'))
atexit.register(shutil.rmtree, _collections, True)
(_collections / 'ansible_collections' / 'glint').mkdir(parents=True)
(_collections / 'ansible_collections' / 'glint' / 'glance').symlink_to(ROOT)
sys.path.insert(0, str(_collections))
