#!/usr/bin/env bash
# run.sh [SCENARIO...]: `molecule test` for each scenario of molecule/ (all by default),
# on systemd Debian containers: installs docker.io when missing, starts dockerd, builds
# the base image when missing (tests/molecule/docker.sh), then runs every scenario, even
# after one failed, and exits non-zero when any did. Needs the venv with Ansible and
# molecule (`make venv ansible`); GLINT_VENV points at another one.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "run.sh: $*" >&2; exit 1; }

VENV=${GLINT_VENV:-$PWD/.venv}
for tool in molecule ansible-playbook pytest; do
  [ -x "$VENV/bin/$tool" ] || die "$VENV/bin/$tool is missing: run \`make venv ansible\` first"
done
"$VENV/bin/python" -c 'import testinfra, molecule_plugins.docker' \
  || die "pytest-testinfra or molecule-plugins[docker] is missing from $VENV: run \`make ansible\`"
export PATH="$VENV/bin:$PATH"

bash tests/molecule/docker.sh all

# Ansible refuses to run on a non-blocking stdin, stdout or stderr, and O_NONBLOCK belongs
# to the pipe, not to a process: any program earlier in the same `make test` stream (all
# of them write into one pipe) may have left it set. Seen in a CI run; set it back.
"$VENV/bin/python" -c '
import os
for fd in (0, 1, 2):
    try:
        os.set_blocking(fd, True)
    except OSError:      # closed (CI gives no stdin)
        pass'

# Plain output in logs; colours only on a terminal.
if [ ! -t 1 ]; then export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0; fi

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
fi
[ ${#scenarios[@]} -gt 0 ] || die "no scenario found under molecule/"

passed=() failed=()
for scenario in "${scenarios[@]}"; do
  [ -f "molecule/$scenario/molecule.yml" ] || die "no scenario molecule/$scenario"
  start=$SECONDS
  if molecule --base-config molecule/base.yml test --scenario-name "$scenario"; then
    passed+=("$scenario")
    echo "run.sh: scenario $scenario passed in $((SECONDS - start)) s"
  else
    failed+=("$scenario")
    echo "run.sh: scenario $scenario FAILED after $((SECONDS - start)) s" >&2
  fi
done

echo "molecule: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
