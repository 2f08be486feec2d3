#!/usr/bin/env bash
# The glint.glance collection as an operator gets it, checked end to end:
#   1. `ansible-galaxy collection build` makes the tarball (galaxy.yml build_ignore);
#   2. `ansible-galaxy collection install --offline` puts it into an empty collections
#      path; its dependencies (galaxy.yml) must be satisfied by the collections the
#      `ansible` package from PyPI bundles, since no Galaxy server is reachable;
#   3. `ansible-playbook glint.glance.site --check --diff` from a directory outside this
#      checkout (no ansible.cfg, no roles/), with only that collections path and the
#      collection's own inventory, against this host as `make deploy` converged it: it
#      must report changed=0, i.e. the installed roles, service source and constraints
#      are the checkout's. --check, since a real run would be `make deploy` again.
# GLINT_DEPLOY_PORT as in test-deploy.sh (default 9292). Run from `make test-collection`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/${GLINT_VENV:-.venv}/bin
PORT=${GLINT_DEPLOY_PORT:-9292}
WORK=$(mktemp -d /tmp/glint-test-collection.XXXXXX)
fail() { echo "test-collection: FAILED: $*" >&2; echo "logs: $WORK" >&2; exit 1; }

"$BIN/ansible-galaxy" collection build --output-path "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log" >&2; fail "ansible-galaxy collection build"; }
tarball=$(ls "$WORK"/dist/glint-glance-*.tar.gz)

# From outside the checkout: its ansible.cfg finds the checkout as glint.glance.
mkdir "$WORK/collections" "$WORK/elsewhere"
(cd "$WORK/elsewhere" && ANSIBLE_COLLECTIONS_PATH="$WORK/collections" \
  "$BIN/ansible-galaxy" collection install --offline -p "$WORK/collections" "$tarball") >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log" >&2; fail "ansible-galaxy collection install --offline"; }
grep -q "glint.glance:.* was installed successfully" "$WORK/install.log" \
  || { cat "$WORK/install.log" >&2; fail "glint.glance was not installed into the empty path"; }
# Every dependency galaxy.yml names is already there (from the ansible package).
deps=$("$BIN/python" -c 'import sys, yaml; print(*yaml.safe_load(open(sys.argv[1]))["dependencies"])' galaxy.yml)
for dep in $deps; do
  grep -q "'$dep:[^']*' is already installed" "$WORK/install.log" \
    || { cat "$WORK/install.log" >&2; fail "dependency $dep is not satisfied offline"; }
done

# This host converged as `make deploy` leaves it (quick when test-deploy ran before).
make --no-print-directory deploy DEPLOY_ARGS="-e glance_api_bind_port=$PORT" >"$WORK/deploy.log" 2>&1 \
  || { tail -40 "$WORK/deploy.log" >&2; fail "make deploy"; }

installed=$WORK/collections/ansible_collections/glint/glance
if ! (cd "$WORK/elsewhere" && ANSIBLE_COLLECTIONS_PATH="$WORK/collections" ANSIBLE_ROLES_PATH="$WORK/elsewhere" \
      ANSIBLE_NOCOLOR=1 "$BIN/ansible-playbook" -i "$installed/inventories/all-in-one" glint.glance.site \
      --check --diff -e "glance_api_bind_port=$PORT") >"$WORK/site-check.log" 2>&1; then
  tail -40 "$WORK/site-check.log" >&2
  fail "glint.glance.site from the installed collection"
fi
changed=$(sed -n '/^PLAY RECAP/,$p' "$WORK/site-check.log" | grep -oE 'changed=[0-9]+' | awk -F= '{s += $2} END {print s + 0}')
[ "$changed" = 0 ] || { grep -B3 -E '^changed:' "$WORK/site-check.log" >&2; fail "--check from the installed collection reports $changed change(s)"; }

echo "test-collection: OK: $(basename "$tarball") built, installed offline into an empty path" \
     "(dependencies $deps from the ansible package), glint.glance.site --check --diff on the" \
     "converged host changed=0 (logs: $WORK)"
