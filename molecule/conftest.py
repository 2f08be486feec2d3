"""Shared by the scenarios' testinfra suites (molecule/<scenario>/tests/), which molecule's
verify step runs with the scenario's inventory and environment."""

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

SHARED = Path(__file__).resolve().parent / 'shared'
sys.path.insert(0, str(SHARED))  # glint_checks


@dataclass
class ImageFlow:
    image_name: str
    process: subprocess.CompletedProcess

    def check(self):
        """Fail with the end of the playbook's output unless it succeeded."""
        out = self.process
        assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


@pytest.fixture(scope='session')
def image_flow():
    """shared/image_flow.yml, run once from the controller against the scenario's inventory:
    an image uploaded, checked in the store, downloaded and deleted. Tests that read logs
    or notifications depend on it, so they see those of real traffic."""
    name = f'glint-molecule-{uuid.uuid4().hex[:12]}'
    process = subprocess.run(
        ['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'],
         '-e', f'glint_verify_image_name={name}', str(SHARED / 'image_flow.yml')],
        capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0'},
    )
    return ImageFlow(name, process)


@pytest.fixture(scope='session')
def inventory_host():
    """A testinfra host of the scenario's inventory, by inventory name."""
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    return lambda name: testinfra.get_host(f'ansible://{name}?ansible_inventory={inventory}')
