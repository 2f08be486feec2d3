"""A/B two Glint trees on this machine by CPU per request, the steady metric on a shared
machine (wall-clock moves with everyone else's load). Each tree runs as its own
glance-api (bench/run.py's Service, no snapshot); the rounds alternate A B B A ...

    git archive <rev> service/glint | tar -x -C /tmp/base
    .state/bench/venv-tools/bin/python bench/ab.py upload sqlite /tmp/base/service tree
    .state/bench/venv-tools/bin/python bench/ab.py show postgresql /tmp/base/service tree
    .state/bench/venv-tools/bin/python bench/ab.py download sqlite /tmp/base/service tree

"tree" is the work tree; anything else is a directory put first on PYTHONPATH. A variant
may add environment variables for its service: tree+MALLOC_ARENA_MAX=2+NAME=value.
AB_STORE=rbd or s3 stores on tests/infra/ceph.sh's Ceph instead of the file store (as
`make bench`'s Ceph rows configure it); every image is deleted through the API.
upload: 1 GiB (BENCH_SIZE_MIB) per round, deleted after it unless KEEP=1 (then every
round writes fresh page-cache pages); server CPU-s per GiB, each thread's CPU, minor page
faults, peak worker RSS. download: one upload per tree, then AB_ROUNDS x 3 rounds of one
whole download each: MB/s, server CPU-s per GiB and peak worker RSS, medians at the end.
AB_SMAPS=1 also prints where the workers' RSS is after each round (smaps()). show: 100 shows
and 40 creates per round, median latency and server CPU per request.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault('BENCH_SNAPSHOT', '0')
import run  # noqa: E402 (bench/run.py, after its environment)

STORE = os.environ.get('AB_STORE', 'file')          # or rbd, s3: tests/infra/ceph.sh's Ceph
CEPH = run.ceph_settings() if STORE != 'file' else {}
AB_STATE = run.STATE / 'ab'


def start(variant: str, database: str, tag: str) -> run.Service:
    tree, *assignments = variant.split('+')     # tree+NAME=value+...: with that environment
    saved = dict(os.environ)
    os.environ.update(a.split('=', 1) for a in assignments)
    if tree == 'tree':
        os.environ.pop('PYTHONPATH', None)
    else:
        os.environ['PYTHONPATH'] = tree
    options = (run.store_options(STORE, CEPH, 'bench-ab-%s-%d' % (tag, os.getpid()))
               if STORE != 'file' else None)
    run.STATE = AB_STATE / tag          # a directory per variant: Service() empties its own
    try:
        return run.Service('glint', database, '%s-%d' % (tag, os.getpid()), STORE,
                           options).start()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def smaps(pid: int) -> str:
    """A worker's RSS by kind of mapping: glibc's main heap, 64 MiB-aligned anonymous
    mappings (glibc's per-thread malloc arenas), other anonymous memory (thread stacks,
    mmap'ed buffers), files (shared libraries)."""
    kinds: dict[str, int] = {}
    kind = 'anon'
    try:
        with open('/proc/%d/smaps' % pid) as f:
            for line in f:
                head = line.split()
                if '-' in head[0] and len(head) >= 5 and not head[0].endswith(':'):
                    start, end = (int(x, 16) for x in head[0].split('-'))
                    name = head[5] if len(head) > 5 else ''
                    kind = ('heap' if name == '[heap]' else 'file' if name.startswith('/')
                            else 'arenas' if not name and start % (64 << 20) == 0 and
                            end - start <= 64 << 20 else 'anon')
                elif head[0] == 'Rss:':
                    kinds[kind] = kinds.get(kind, 0) + int(head[1]) * 1024
    except OSError:
        return 'gone'
    return ', '.join('%s %.0f' % (k, v / 1e6) for k, v in sorted(kinds.items()))


def print_smaps(svc: run.Service) -> None:
    if os.environ.get('AB_SMAPS') == '1':
        for pid in svc.workers():
            print('    worker %d RSS (MB): %s' % (pid, smaps(pid)), flush=True)


def alternate(services: dict, rounds: int):
    for r in range(rounds):
        yield from (services.items() if r % 2 == 0 else reversed(services.items()))


def upload_round(name: str, svc: run.Service, path, meta) -> None:
    image_id = svc.api.create(0)
    workers = svc.workers()
    daemons = list(run.ceph_pids(CEPH['GLINT_TEST_CEPH_CONF']).values()) if CEPH else []
    cpu0, faults0 = svc.cpu(), run.minor_faults(workers)
    ceph0 = run.cpu_seconds(daemons)
    with run.RssSampler(workers) as rss, run.TaskSampler(workers) as tasks:
        res = run.upload(svc.port, image_id, path, 0, run.SIZE)
    cpu, faults = svc.cpu() - cpu0, run.minor_faults(workers) - faults0
    if daemons:
        print('    Ceph daemons: %.2f CPU-s/GiB' % ((run.cpu_seconds(daemons) - ceph0) *
                                                  (1 << 30) / run.SIZE), flush=True)
    problem = (run.check_image(svc, image_id, meta['md5'], meta['sha512'])
               if res['status'] == 204 else 'HTTP %d' % res['status'])
    threads = sorted(((u + s, u, s, run.TASK_NAMES.get(tid, '?'))
                      for tid, (u, s, _w) in tasks.deltas().items() if u + s > 0.05),
                     reverse=True)
    print('%-24s %5.0f MB/s  %.2f CPU-s/GiB  faults %7d  peak RSS %3.0f MB (before %3.0f)  '
          '%s  load %.1f' % (name[-24:], res['mbps'], cpu * (1 << 30) / run.SIZE, faults,
                             rss.peak / 1e6, rss.before / 1e6, problem or 'ok',
                             os.getloadavg()[0]), flush=True)
    print('    threads (user+sys CPU-s):',
          ', '.join('%s %.2f (u %.2f s %.2f)' % (t[3], *t[:3]) for t in threads), flush=True)
    print_smaps(svc)
    if os.environ.get('KEEP') != '1':
        svc.api.call('DELETE', '/v2/images/' + image_id)


def download_rounds(services: dict, rounds: int, path) -> None:
    urls = {}
    for name, svc in services.items():
        image_id = svc.api.create(0)
        res = run.upload(svc.port, image_id, path, 0, run.SIZE)
        assert res['status'] == 204, res
        urls[name] = '/v2/images/%s/file' % image_id
    seen = {name: ([], [], []) for name in services}
    for name, svc in alternate(services, rounds):
        cpu0 = svc.cpu()
        with run.RssSampler(svc.workers()) as rss:
            res = run.download(svc.port, urls[name])
        assert (res['status'], res['bytes']) == (200, run.SIZE), res
        mbps, cpu, peak = seen[name]
        mbps.append(res['mbps'])
        cpu.append((svc.cpu() - cpu0) * (1 << 30) / run.SIZE)
        peak.append(rss.peak / 1e6)
        print('%-24s %5.0f MB/s  %.2f CPU-s/GiB  peak RSS %3.0f MB (before %3.0f)  load %.1f'
              % (name[-24:], mbps[-1], cpu[-1], peak[-1], rss.before / 1e6,
                 os.getloadavg()[0]), flush=True)
        print_smaps(svc)
    for name, svc in services.items():   # a Ceph store keeps what is not deleted
        svc.api.call('DELETE', urls[name].removesuffix('/file'))
    for name, (mbps, cpu, peak) in seen.items():
        print('%-24s median %5.0f MB/s (%.0f-%.0f)  %.2f CPU-s/GiB  peak RSS %.0f MB' % (
            name[-24:], statistics.median(mbps), min(mbps), max(mbps), statistics.median(cpu),
            max(peak)))


def main(argv: list[str]) -> int:
    mode, database, variants = argv[0], argv[1], argv[2:]
    rounds = int(os.environ.get('AB_ROUNDS', 4))
    if mode in ('upload', 'download'):
        path, meta = run.data_file()
    # services in a directory of their own: never a running `make bench`'s
    global AB_STATE
    AB_STATE = run.STATE / 'ab'
    services = {v: start(v, database, 'ab%d' % i) for i, v in enumerate(variants)}
    try:
        if mode == 'upload':
            for name, svc in alternate(services, rounds):
                upload_round(name, svc, path, meta)
            return 0
        if mode == 'download':
            download_rounds(services, 3 * rounds, path)
            return 0
        ids = {v: [s.api.create(i) for i in range(50)] for v, s in services.items()}
        stats = {v: {'show': [], 'create': [], 'show_cpu': 0.0, 'create_cpu': 0.0}
                 for v in services}
        for name, svc in alternate(services, rounds):
            st = stats[name]
            cpu0 = svc.cpu()
            for i in range(100):
                t0 = time.perf_counter()
                status, _ = svc.api.call('GET', '/v2/images/' + ids[name][i % 50])
                st['show'].append((time.perf_counter() - t0) * 1000)
                assert status == 200, status
            st['show_cpu'] += svc.cpu() - cpu0
            cpu0 = svc.cpu()
            for i in range(40):
                t0 = time.perf_counter()
                svc.api.create(1000 + i)
                st['create'].append((time.perf_counter() - t0) * 1000)
            st['create_cpu'] += svc.cpu() - cpu0
        for name, st in stats.items():
            print('%-24s show %.2f ms median, %.2f ms CPU each | create %.2f ms median, '
                  '%.2f ms CPU each' % (
                      name[-24:], statistics.median(st['show']),
                      1000 * st['show_cpu'] / len(st['show']),
                      statistics.median(st['create']),
                      1000 * st['create_cpu'] / len(st['create'])))
        return 0
    finally:
        for svc in services.values():
            svc.cleanup()
        if STORE == 's3':               # the buckets, emptied by the deletes above
            subprocess.run([str(run.GLINT_VENV / 'bin' / 'python'), str(run.S3_CLIENT),
                            'purge', *(s.conf.read_text().split('s3_store_bucket = ')[1]
                                       .split()[0] for s in services.values())],
                           env=dict(os.environ, S3_URL=CEPH['GLINT_TEST_S3_URL'],
                                    S3_ACCESS_KEY=CEPH['GLINT_TEST_S3_ACCESS_KEY'],
                                    S3_SECRET_KEY=CEPH['GLINT_TEST_S3_SECRET_KEY']))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
