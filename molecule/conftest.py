"""Shared by the scenarios' testinfra suites (molecule/<scenario>/tests/), which molecule's
verify step runs with the scenario's inventory and environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent / 'shared'
sys.path.insert(0, str(SHARED))  # glint_checks


@pytest.fixture(scope='session')
def image_flow():
    """shared/image_flow.yml, run once from the controller against the scenario's inventory
    (an image uploaded, checked in the store, downloaded and deleted); its completed process.
    Tests that read logs depend on it, so they see the logs of real traffic."""
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    return subprocess.run(
        ['ansible-playbook', '-i', inventory, str(SHARED / 'image_flow.yml')],
        capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0'},
    )
