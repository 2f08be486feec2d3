#!/usr/bin/env bash
# ansible-test sanity for the glint.glance collection's plugins (modules,
# module_utils, doc_fragments). ansible-test wants the collection at
# .../ansible_collections/glint/glance, so this copies what the collection ships
# for its plugins (not the service, its tests or the roles' state) into a
# temporary tree and runs there with Python 3.11 from a virtualenv of its own
# (.state/sanity-venv), where --requirements installs the tools ansible-test pins
# (pylint, yamllint, voluptuous, ...) from PyPI on the first run.
#   bash tests/sanity.sh [ansible-test sanity arguments, e.g. --test validate-modules]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${GLINT_VENV:-$ROOT/.venv}/bin
SANITY_VENV=${GLINT_SANITY_VENV:-$ROOT/.state/sanity-venv}
WORK=$(mktemp -d /tmp/glint-sanity.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DEST=$WORK/ansible_collections/glint/glance

mkdir -p "$DEST/tests"
cp -a "$ROOT/galaxy.yml" "$ROOT/README.md" "$ROOT/meta" "$ROOT/plugins" "$DEST/"
mkdir -p "$DEST/tests/sanity"
cp -a "$ROOT"/tests/sanity/ignore-*.txt "$DEST/tests/sanity/" 2>/dev/null || true
find "$DEST" -name __pycache__ -prune -exec rm -rf {} +
cd "$DEST"
# ansible-test lists the files git tracks when there is a repository.
git init -q && git add -A

# ansible-test runs the tests with the python3.11 it finds first on PATH: this venv's.
[ -x "$SANITY_VENV/bin/python3.11" ] || python3.11 -m venv "$SANITY_VENV"
# ansible-test keeps its per-test virtualenvs and caches under $HOME/.ansible/test: give
# it a home of its own, holding the stand-in for the get-pip.py it cannot download.
export HOME=$SANITY_VENV/home
# The pip version ansible-test bootstraps (pip='24.2' in ansible-core 2.19), as it names the file.
PIP_VERSION=$("$BIN/python" -c 'import ansible_test, pathlib, re; print(re.search(
  r"pip=.([0-9.]+).", (pathlib.Path(ansible_test.__file__).parent
  / "_internal/python_requirements.py").read_text()).group(1).replace(".", "_"))')
GET_PIP=$HOME/.ansible/test/cache/get_pip_$PIP_VERSION.py
mkdir -p "$(dirname "$GET_PIP")"
cp "$ROOT/tests/sanity/get_pip.py" "$GET_PIP"
PATH=$SANITY_VENV/bin:$BIN:$PATH \
  "$BIN/ansible-test" sanity --requirements --python 3.11 --color no "$@"
