"""oslo.messaging (22 MB of a worker, eventlet with it) is imported only when a
notification driver is configured. Each case runs in a fresh interpreter: this test
process may have imported it already."""
import json
import subprocess
import sys

import pytest

PROBE = '''
import json, sys
from glint.common.config import CONF
import glint.api.app   # what a glance-api worker imports
from glint import notifier
CONF(["--config-file", sys.argv[1]], project="glance")
n = notifier.build(CONF)
print(json.dumps({"enabled": n.enabled, "imported": "oslo_messaging" in sys.modules,
                  "eventlet": "eventlet" in sys.modules,
                  "wants": n.wants("image.create")}))
'''


@pytest.mark.parametrize('section, expected', [
    ('', {'enabled': False, 'imported': False, 'eventlet': False, 'wants': False}),
    ('[oslo_messaging_notifications]\ndriver = noop\n',
     {'enabled': False, 'imported': False, 'eventlet': False, 'wants': False}),
    ('[oslo_messaging_notifications]\ndriver = log\n',
     {'enabled': True, 'imported': True, 'eventlet': True, 'wants': True}),
], ids=['no-driver', 'noop', 'log'])
def test_oslo_messaging_only_with_a_driver(tmp_path, section, expected):
    conf = tmp_path / 'glance-api.conf'
    conf.write_text('[DEFAULT]\n' + section)
    out = subprocess.run([sys.executable, '-W', 'ignore', '-c', PROBE, str(conf)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1]) == expected
