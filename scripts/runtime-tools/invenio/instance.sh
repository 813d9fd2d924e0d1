#!/usr/bin/env bash
# Builds the stand-in for the site's InvenioRDM image into DIR (called by
# scripts/runtime-tools.sh, which caches DIR):
#
#   DIR/venv      Debian's Python 3.11 with requirements.txt installed
#                 (--require-hashes --no-deps: nothing unlocked comes in)
#   DIR/instance  what the image has in /opt/invenio/var/instance: our
#                 invenio.cfg, the collected static files and the webpack
#                 build (static/dist), and data/ (the files volume's mount point)
#
# What a cookiecutter instance adds to the assets (a semantic-ui theme.config,
# empty site overrides and template folders, an empty overridable-components
# registry) is written here; theme.config is taken from the example the
# installed invenio-theme ships. npm installs exactly package-lock.json.
#
# Usage: instance.sh SRC DIR   (SRC: the release's locks, scripts/runtime-tools/invenio
# or invenio-<version>; invenio.cfg, and package-lock.json unless SRC has
# one, are the ones beside this script)
set -euo pipefail
src=$1 dir=$2
set -x
/usr/bin/python3 -m venv "$dir/venv"
# lxml and xmlsec (invenio-saml needs it) from source: their wheels each
# bundle a libxml2 of their own, and xmlsec refuses to load when the two
# differ ("lxml & xmlsec libxml2 library version mismatch"); built here,
# both use Debian's.
"$dir/venv/bin/pip" install --quiet --no-deps --require-hashes --no-binary lxml,xmlsec -r "$src/requirements.txt"
# pip's own check: every dependency of what is installed is there.
"$dir/venv/bin/pip" check

export INVENIO_INSTANCE_PATH="$dir/instance" PATH="$dir/venv/bin:$PATH"
mkdir -p "$dir/instance/data"
cp "$(dirname "$0")/invenio.cfg" "$dir/instance/invenio.cfg"
invenio collect >/dev/null

assets=$dir/instance/assets
invenio webpack create
mkdir -p "$assets/less/site/globals" "$assets/templates/custom_fields" "$assets/templates/search" \
  "$assets/js/invenio_app_rdm/overridableRegistry"
site=$("$dir/venv/bin/python" -c 'import invenio_theme, os; print(os.path.dirname(invenio_theme.__file__))')
sed "s|^@siteFolder *:.*|@siteFolder  : '../../less/site';|" \
  "$site/assets/semantic-ui/less/invenio_theme/theme.config.example" >"$assets/less/theme.config"
touch "$assets/less/site/globals/site.variables" "$assets/less/site/globals/site.overrides" \
  "$assets/templates/custom_fields/.keep" "$assets/templates/search/.keep"
echo 'export const overriddenComponents = {};' >"$assets/js/invenio_app_rdm/overridableRegistry/mapping.js"
# A release whose `invenio webpack create` writes another package.json has
# its own lock beside its requirements (12.0.0 has: invenio-12.0.0/).
lock=$src/package-lock.json
[ -f "$lock" ] || lock=$(dirname "$0")/package-lock.json
cp "$lock" "$assets/package-lock.json"
# The npm registry served here lacks many of the versions a 2024 build
# resolved; package-lock.json pins what does resolve here, and
# --legacy-peer-deps accepts peer ranges newer packages declare.
(cd "$assets" && npm ci --legacy-peer-deps --no-audit --no-fund --loglevel=error)
invenio webpack build
test -s "$dir/instance/static/dist/manifest.json"
# node_modules is only needed to build: the image's instance keeps it, but
# nothing reads it at run time.
rm -rf "$assets/node_modules"
chmod -R a+rX "$dir"
