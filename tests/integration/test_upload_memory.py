"""A 1 GiB image through glance_image: the module process's peak memory, measured.

The play's ansible_python_interpreter is a wrapper that runs the real Python as a child
(the module: Ansible pipes it on stdin) and records the child's peak RSS
(getrusage(RUSAGE_CHILDREN).ru_maxrss), one line per task."""
import hashlib
import os
import stat
import sys

from tests.integration.conftest import unique

GIB = 1 << 30
LIMIT_KIB = 100 * 1000 * 1000 // 1024  # 100 MB


def memory_wrapper(directory):
    wrapper, report = directory / 'python-maxrss', directory / 'maxrss.txt'
    wrapper.write_text(
        '#!%(python)s\n'
        'import resource, subprocess, sys\n'
        'code = subprocess.call([%(python)r] + sys.argv[1:])\n'
        'with open(%(report)r, "a") as out:\n'
        '    out.write("%%d\\n" %% resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n'
        'sys.exit(code)\n' % {'python': sys.executable, 'report': str(report)})
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, report


def sparse_sha512(size):
    """sha512 of size zero bytes, without a buffer of that size."""
    digest, block = hashlib.sha512(), bytes(4 << 20)
    for _ in range(size // len(block)):
        digest.update(block)
    return digest.hexdigest()


def test_1gib_upload_and_compare_stay_under_100mb(ansible, glint, tmp_path):
    big = tmp_path / 'big.img'
    with open(big, 'wb') as f:
        f.truncate(GIB)  # sparse: no disk used here, 1 GiB read by the module
    wrapper, report = memory_wrapper(tmp_path)
    name = unique('big')
    task = {'glint.glance.glance_image': dict(name=name, filename=str(big),
                                              disk_format='raw', timeout=600)}
    try:
        upload, again, delete = ansible.run(
            [dict(task), dict(task),
             {'glint.glance.glance_image': dict(name=name, state='absent')}],
            interpreter=wrapper)
    finally:
        os.unlink(big)
    peaks = [int(line) for line in report.read_text().split()]
    print('module peak RSS (KiB): upload %d, compare %d, delete %d' % tuple(peaks))
    assert not upload.get('failed'), upload.get('msg')
    assert upload['changed'] and upload['image']['size'] == GIB
    assert upload['image']['os_hash_value'] == sparse_sha512(GIB)
    # The second run hashed the whole file (same size, so the digest decides).
    assert again['changed'] is False
    assert delete['changed'] is True
    assert len(peaks) == 3
    # The measurement is real: a module process with openstacksdk loaded weighs
    # tens of MB, and the upload / the streaming hash stay well below 100 MB.
    assert all(20 * 1024 < peak < LIMIT_KIB for peak in peaks), peaks
