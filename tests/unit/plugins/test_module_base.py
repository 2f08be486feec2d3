"""GlanceModule, the image modules' shared base: options, check mode, diff and the one
mapping of errors to a failed task; driven through a module with a fake client."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.glint.glance.plugins.module_utils import glance as g
from ansible_collections.glint.glance.plugins.modules import glance_image_member


class FakeClient:
    """The member calls of GlanceClient, on dicts."""

    def __init__(self, members=None):
        self.members = dict(members or {})
        self.calls = []

    def find_images(self, name_or_id, filters=None):
        return [{'id': 'i1', 'name': 'img'}] if name_or_id in ('img', 'i1') else []

    def project_id(self, name_or_id):
        return name_or_id

    def get_member(self, image_id, member_id):
        status = self.members.get(member_id)
        return status and {'member_id': member_id, 'status': status}

    def add_member(self, image_id, member_id):
        self.calls.append(('add', member_id))
        self.members[member_id] = 'pending'
        return self.get_member(image_id, member_id)

    def set_member_status(self, image_id, member_id, status):
        raise g.GlanceError('PUT /images/i1/members/%s: 403 Forbidden' % member_id, 403)


def run(monkeypatch, capsys, client, check_mode=False, **args):
    """The module's JSON result (failed or not)."""
    monkeypatch.setattr(g, 'connect', lambda module: client)
    args = dict(args, _ansible_check_mode=check_mode)
    with patch_module_args(args), pytest.raises(SystemExit):
        glance_image_member.main()
    return json.loads(capsys.readouterr().out)


def test_the_connection_options_come_with_every_module(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeClient(), image='img', member='p2',
                 cloud='mycloud', interface='internal')
    assert not result.get('failed') and result['changed'] is True


def test_check_mode_reports_the_plan_and_its_diff_without_calls(monkeypatch, capsys):
    client = FakeClient()
    result = run(monkeypatch, capsys, client, check_mode=True, image='img', member='p2')
    assert result['changed'] is True and client.calls == []
    assert result['diff'] == {'before': {}, 'after': {'member': 'p2', 'status': 'pending'}}
    assert result['member'] is None


def test_a_change_is_made_and_returned(monkeypatch, capsys):
    client = FakeClient()
    result = run(monkeypatch, capsys, client, image='img', member='p2')
    assert client.calls == [('add', 'p2')]
    assert result['member'] == {'member_id': 'p2', 'status': 'pending'}
    assert result['image_id'] == 'i1'


def test_nothing_to_change(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeClient({'p2': 'pending'}), image='img',
                 member='p2')
    assert result['changed'] is False
    assert result['diff']['before'] == result['diff']['after']


def test_a_failure_fails_the_task_with_its_message(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeClient(), image='nothing', member='p2')
    assert result['failed'] is True
    assert result['msg'] == 'image nothing: 0 images match, need exactly one'
    assert 'status' not in result


def test_an_api_error_fails_the_task_with_its_status(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeClient({'p2': 'pending'}), image='img',
                 member='p2', status='accepted')
    assert result['failed'] is True and result['status'] == 403
    assert '403 Forbidden' in result['msg']


def test_options_are_checked_before_connecting(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeClient(), image='img')
    assert result['failed'] is True and 'member' in result['msg']
