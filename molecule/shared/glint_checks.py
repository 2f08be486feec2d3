"""Checks of a deployed Glint service on a testinfra host, shared by the scenarios."""

import configparser
import re

TRACEBACK = 'Traceback (most recent call last)'


def unit_is_running(host, unit, user):
    """The systemd unit is enabled and running as user, and has not been restarted."""
    service = host.service(unit)
    assert service.is_enabled
    assert service.is_running
    props = dict(line.split('=', 1) for line in host.check_output(
        f'systemctl show -p User -p NRestarts -p MainPID {unit}').splitlines())
    assert props['User'] == user
    assert props['NRestarts'] == '0'
    return int(props['MainPID'])


def unit_listens(host, unit, user, port, address='127.0.0.1'):
    """The unit's main process holds the socket listening on address:port. The containers
    share the host's network, so the socket's inode is matched to the process's fds
    (read as the service user: root in a container may not read another user's fds)."""
    main_pid = unit_is_running(host, unit, user)
    sockets = host.check_output(f"ss -Hltne 'sport = :{port}'")
    assert f'{address}:{port} ' in sockets, sockets
    inode = re.search(r'ino:(\d+)', sockets).group(1)
    fds = host.check_output(
        f'runuser -u {user} -- find /proc/{main_pid}/fd -lname "socket:*" -printf "%l\\n"')
    assert f'socket:[{inode}]' in fds.split()


def answers_healthcheck(host, port):
    """GET /healthcheck from inside the container answers 200."""
    status = host.check_output(
        'python3 -c "import urllib.request as u;'
        f" print(u.urlopen('http://127.0.0.1:{port}/healthcheck', timeout=10).status)\"")
    assert status == '200'


def has_mode(host, path, owner, group, mode):
    """path exists with exactly this owner, group and mode."""
    f = host.file(path)
    assert f.exists, path
    assert (f.user, f.group, f.mode) == (owner, group, mode), path


def read_ini(host, path):
    """An oslo.config file as a ConfigParser (DEFAULT options appear in every section)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(host.file(path).content_string)
    return parser


def no_tracebacks(host, unit, log_files):
    """Neither the unit's journal nor its log files hold a Python traceback."""
    journal = host.check_output(f'journalctl --no-pager -o cat -u {unit}')
    assert TRACEBACK not in journal
    for path in log_files:
        content = host.file(path).content_string
        assert content, f'{path} is empty'
        assert TRACEBACK not in content, path
