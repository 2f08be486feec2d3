"""What ceph.sh asks of its cluster in one librados session each, as client.admin
(a `ceph` command costs a Python start-up and a new session, which matters when
polling). Run by Debian's /usr/bin/python3, the one that has python3-rados:

    ceph_admin.py setup DIR POOL USER # pools, keys in DIR (below)
    ceph_admin.py wait SECONDS URL    # until healthy and URL (radosgw) answers

The cluster is the one of $CEPH_CONF. GLINT_CEPH_DEBUG=1 prints what wait waits for.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

import rados
import rbd

# What radosgw 16.2 creates on its first start and first S3 write; created
# here beforehand, since the first write stalls for seconds while its PGs appear.
RGW_POOLS = (
    '.rgw.root', 'default.rgw.control', 'default.rgw.meta', 'default.rgw.log',
    'default.rgw.buckets.index', 'default.rgw.buckets.data', 'default.rgw.buckets.non-ec',
)
PG_NUM = 8


def connect():
    """client.admin's session (a context manager: it connects on entry)."""
    return rados.Rados(conffile=os.environ['CEPH_CONF'], conf={'client_mount_timeout': '30'})


def command(cluster, prefix, **arguments):
    """A mon command's answer (JSON unless format says otherwise); raise on an error."""
    arguments.setdefault('format', 'json')
    code, out, err = cluster.mon_command(json.dumps({'prefix': prefix, **arguments}), b'')
    if code:
        raise RuntimeError(f'{prefix} {arguments}: {err} ({code})')
    if arguments['format'] != 'json':
        return out.decode()
    return json.loads(out) if out else None


def write_key(cluster, path, entity, *caps):
    """Get or create entity's key with caps, and write its keyring to path (0600)."""
    keyring = command(cluster, 'auth get-or-create', entity=entity, caps=caps, format='plain')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as file:
        file.write(keyring)


def setup(directory, pool, user):
    """Pool POOL for rbd and radosgw's pools (a pool that exists is kept); client.USER's
    key for POOL (as Glance's: `profile rbd`) in DIR/ceph.client.USER.keyring, and
    radosgw's own in DIR/client.rgw.a/keyring."""
    with connect() as cluster:
        for name in (pool, *RGW_POOLS):
            command(cluster, 'osd pool create', pool=name, pg_num=PG_NUM, pgp_num=PG_NUM)
        for name in RGW_POOLS:
            command(cluster, 'osd pool application enable', pool=name, app='rgw')
        with cluster.open_ioctx(pool) as ioctx:
            rbd.RBD().pool_init(ioctx, True)  # = `rbd pool init`: application rbd
        write_key(cluster, f'{directory}/ceph.client.{user}.keyring', f'client.{user}',
                  'mon', 'profile rbd', 'osd', f'profile rbd pool={pool}',
                  'mgr', f'profile rbd pool={pool}')
        write_key(cluster, f'{directory}/client.rgw.a/keyring', 'client.rgw.a',
                  'mon', 'allow rw', 'osd', 'allow rwx')


def problems(cluster, url):
    """What keeps the cluster from being ready, in words; empty when it is."""
    status = command(cluster, 'status')
    found = []
    osds = status['osdmap']
    if osds['num_up_osds'] < 1 or osds['num_in_osds'] < 1:
        found.append('the OSD is not up and in')
    pg_total = sum(p['pg_num'] for p in command(cluster, 'osd pool ls', detail='detail'))
    pgmap = status['pgmap']
    clean = sum(s['count'] for s in pgmap.get('pgs_by_state', ())
                if s['state_name'] == 'active+clean')
    if clean != pg_total:
        states = ', '.join(f"{s['count']} {s['state_name']}" for s in pgmap.get('pgs_by_state', ()))
        found.append(f'{clean} of {pg_total} PGs active+clean ({states or "none reported"})')
    health = status['health']
    if health['status'] != 'HEALTH_OK':
        found.append(f"{health['status']}: {', '.join(health.get('checks', {}))}")
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        pass  # an answer all the same
    except OSError as error:
        found.append(f'radosgw does not answer on {url} ({error})')
    return found


def wait(seconds, url):
    deadline = time.monotonic() + float(seconds)
    with connect() as cluster:
        last = None
        while found := problems(cluster, url):
            if os.environ.get('GLINT_CEPH_DEBUG') and found != last:
                print(f'{time.monotonic():.2f}', found, file=sys.stderr)
                last = found
            if time.monotonic() > deadline:
                detail = command(cluster, 'health', detail='detail')
                sys.exit(f'ceph_admin.py: not ready after {seconds} s: {"; ".join(found)}\n'
                         + json.dumps(detail.get('checks', {}), indent=1))
            time.sleep(0.3)


if __name__ == '__main__':
    {'setup': setup, 'wait': wait}[sys.argv[1]](*sys.argv[2:])
