"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in the
virtualenvs of its sanity tests (ci-files.testing.ansible.com is not reachable here).

Called as get-pip.py is, with pip's install arguments (`pip==24.2 --no-setuptools
...`): bootstraps pip from this Python's bundled wheel (ensurepip), then installs what
was asked for with it, from the package index pip is configured for.
"""
import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}  # get-pip.py's own flags

ensurepip.bootstrap(upgrade=True)
# ensurepip sets PIP_CONFIG_FILE=/dev/null in this process; the install needs the
# machine's pip configuration (index, CA bundle) back.
env = {k: v for k, v in os.environ.items() if k != 'PIP_CONFIG_FILE'}
subprocess.check_call([sys.executable, '-m', 'pip', 'install',
                       *(arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY)], env=env)
