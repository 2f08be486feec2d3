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
    processes: dict[str, subprocess.CompletedProcess]

    def check(self):
        """Fail with the end of the playbook's output unless it succeeded on every host."""
        for api_host, out in self.processes.items():
            assert out.returncode == 0, f'{api_host}: ' + out.stdout[-6000:] + out.stderr[-2000:]


def _glance_api_hosts(inventory):
    out = subprocess.run(['ansible', '-i', inventory, '--list-hosts', 'glance_api'],
                         capture_output=True, text=True, check=True)
    return [line.strip() for line in out.stdout.splitlines()[1:] if line.strip()]


@pytest.fixture(scope='session')
def image_flow():
    """shared/image_flow.yml, run once per glance_api host of the scenario's inventory, all
    at once, from the controller: an image uploaded, checked in the store, downloaded and
    deleted. Tests that read logs or notifications depend on it, so they see those of real
    traffic."""
    name = f'glint-molecule-{uuid.uuid4().hex[:12]}'
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    running = {
        api_host: subprocess.Popen(
            ['ansible-playbook', '-i', inventory, '-e', f'glint_verify_image_name={name}',
             '-e', f'glint_verify_api_host={api_host}', str(SHARED / 'image_flow.yml')],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0'})
        for api_host in _glance_api_hosts(inventory)}
    done = {}
    for api_host, proc in running.items():
        stdout, stderr = proc.communicate(timeout=900)
        done[api_host] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return ImageFlow(name, done)


@pytest.fixture(scope='session')
def inventory_host():
    """A testinfra host of the scenario's inventory, by inventory name."""
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    return lambda name: testinfra.get_host(f'ansible://{name}?ansible_inventory={inventory}')
