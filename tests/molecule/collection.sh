#!/usr/bin/env bash
# collection.sh: make this checkout available as the collection glint.glance (a link in
# .state/molecule/ansible_collections/glint/glance) and print the directory to put in
# ANSIBLE_COLLECTIONS_PATH. Molecule's dependency step runs it (molecule/base.yml); so can
# ansible-lint, whose syntax check of molecule/ needs glint.glance.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/.state/molecule/ansible_collections/glint"
ln -sfn "$root" "$root/.state/molecule/ansible_collections/glint/glance"
echo "$root/.state/molecule"
