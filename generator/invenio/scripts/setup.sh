#!/bin/sh
# Generated: first install or upgrade of InvenioRDM v12. Safe to run again.
#
# The install is a list of steps recorded in the database (setup_state.py):
# each is recorded when it starts and when it ends, a retry of the Job skips
# the ended ones and resumes the others (each is safe to run again after an
# attempt died in it), and the installation counts as done only when every
# step has ended. An unreachable database is an error, never a new install.
# docs/lifecycle.md has the runbook.
set -eu
: "${PLATFORM_RELEASE:?the Job sets it to the application image}"
export PYTHONUNBUFFERED=1
here=$(dirname "$0")
log() { echo "invenio-setup: $*"; }
state() { python "$here/setup_state.py" "$@"; }

# app runs Python with the application's context (exit codes of
# `invenio shell` are not reliable).
app() {
  python -c '
import sys
from invenio_app.factory import create_api
app = create_api()
with app.app_context():
    exec(sys.stdin.read())
'
}

# backup.restore: the restore Job fills an empty database and records the
# end of the restore (row "restore", once every check passed); until then
# nothing is written here, whatever the database holds or whether it can
# be read. The restored install is then upgraded below like any other.
if [ "${PLATFORM_RESTORE:-0}" = 1 ]; then
  waited=0
  until state restored; do
    if [ "$waited" = 0 ]; then
      log "this environment is restored from its backups (backup.restore): waiting for the restore Job to record its end (kubectl logs job/restore --all-containers)"
    elif [ $((waited % 300)) -eq 0 ]; then
      log "still waiting for the restore Job after $waited s"
    fi
    sleep 10
    waited=$((waited + 10))
  done
  log "the restore Job has recorded its end (waited $waited s)"
fi

status=$(state status)

step_database() { invenio db init create; }

step_files_location() {
  app <<'PY'
import os
from invenio_db import db
from invenio_files_rest.models import Location
if Location.query.filter_by(name="default-location").first() is None:
    db.session.add(Location(name="default-location", uri=os.environ["INVENIO_INSTANCE_PATH"] + "/data", default=True))
    db.session.commit()
PY
}

step_roles() {
  app <<'PY'
# What `invenio roles create <role>` and `invenio access allow <action>
# role <role>` do, each only if not done yet.
from invenio_access.models import ActionRoles
from invenio_access.proxies import current_access
from invenio_accounts.proxies import current_datastore
from invenio_db import db
for role, action in (("admin", "superuser-access"),
                     ("administration", "administration-access"),
                     ("administration-moderation", "administration-moderation")):
    r = current_datastore.find_role(role) or current_datastore.create_role(name=role)
    db.session.flush()
    if ActionRoles.query.filter_by(action=action, role_id=r.id, argument=None).first() is None:
        db.session.add(ActionRoles.allow(current_access.actions[action], role=r))
db.session.commit()
PY
}

step_indices() {
  if [ "$resume" = 1 ]; then
    # An attempt died while creating them: nothing is indexed before this
    # step ends, so the instance's own indices go and are made again.
    app <<'PY'
import os
from invenio_search.proxies import current_search_client as client
prefix = os.environ["INVENIO_SEARCH_INDEX_PREFIX"]
for name in sorted(client.indices.get(index=prefix + "*")):
    print("invenio-setup: deleting the half-made index %s" % name)
    client.indices.delete(index=name)
PY
  fi
  invenio index init
}

step_custom_fields() {
  # Both commands print an error and still exit 0 when the mapping update
  # fails: their output decides.
  out=$(invenio rdm-records custom-fields init 2>&1 && invenio communities custom-fields init 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  if echo "$out" | grep -qi "error"; then
    return 1
  fi
}

step_app_fixtures() {
  if [ "$resume" = 1 ]; then
    # The OAI sets of the fixtures are created one by one and refuse a
    # second copy; none exists on an instance whose install has not ended.
    app <<'PY'
from invenio_db import db
from invenio_oaiserver.models import OAISet
OAISet.query.delete()
db.session.commit()
PY
  fi
  invenio rdm fixtures
}

step_queues() { invenio queues declare; }

step_vocabularies() {
  if [ "$resume" = 0 ]; then
    invenio rdm-records fixtures
    return
  fi
  # rdm-records skips every vocabulary whose type exists: one an attempt
  # died in would stay half-queued. Each existing one is queued again
  # (the worker refuses an entry that exists); then the others, and the
  # fixtures after the vocabularies (users), as a first attempt would.
  app <<'PY'
from pathlib import Path
import invenio_rdm_records.fixtures as fx
from flask import current_app
from invenio_access.permissions import system_identity
from invenio_vocabularies.records.models import VocabularyScheme, VocabularyType
from invenio_rdm_records.fixtures.vocabularies import PrioritizedVocabulariesFixtures
existing = [v.id for v in VocabularyType.query.all()] + [f"{s.parent_id}.{s.id}" for s in VocabularyScheme.query.all()]
loader = PrioritizedVocabulariesFixtures(system_identity, app_data_folder=Path(current_app.instance_path) / "app_data",
                                         pkg_data_folder=Path(fx.__file__).parent / "data", filename="vocabularies.yaml")
for v in existing:
    print("invenio-setup: queueing vocabulary %s again" % v)
    loader.load(reload=v)
PY
  invenio rdm-records fixtures
}

# The database and indices of this release are in place: its pods, which
# wait for this record, start (the worker then loads the vocabularies).
step_release() { state released "$PLATFORM_RELEASE"; }

step_vocabularies_loaded() {
  # rdm-records queues the vocabularies (languages, licences, resource
  # types: about 16,000 Celery tasks) and returns: the instance cannot
  # take a deposit until the worker has loaded them.
  python - <<'PY'
import os, sys, time
from kombu import Connection
# The broker may restart meanwhile (a rollout, a failed probe): each poll
# connects afresh and only the deadline ends the wait.
deadline, quiet, last = time.time() + 1800, 0, None
while quiet < 3:
    if time.time() > deadline:
        sys.exit("invenio-setup: the vocabularies were not loaded within 30 minutes (tasks queued, workers: %s): is the worker running?" % (last,))
    try:
        with Connection(os.environ["INVENIO_CELERY_BROKER_URL"], connect_timeout=10) as conn:
            q = conn.default_channel.queue_declare(queue="celery", passive=True)
            now = (q.message_count, q.consumer_count)
    except Exception as e:
        print("invenio-setup: broker not reachable, retrying: %s" % e, flush=True)
        quiet, now = 0, last
    else:
        if now != last:
            print("invenio-setup: %d tasks queued, %d workers" % now, flush=True)
        quiet = quiet + 1 if now[0] == 0 and now[1] > 0 else 0
    last = now
    time.sleep(5)
PY
}

# An upgrade: what a new release of v12 may need, each step safe to run
# again, so none is recorded: the schema migrated; the queues declared; the
# search templates put again, an index new in the release made, and every
# existing index given the release's mapping (v12 releases only add to a
# mapping: invenio-communities 13.0.9, in 12.0.10, added dynamic templates
# for user profiles to the member indices, which indexing then needs);
# custom fields a release adds.
upgrade_migrations() { invenio alembic upgrade; }
upgrade_queues() { invenio queues declare; }
upgrade_search() {
  app <<'PY'
import sys
from invenio_search import current_search
from invenio_search.utils import build_alias_name
client = current_search.client
# As `invenio index init` puts them; a put replaces the template of that name.
for put in (current_search.put_templates, current_search.put_component_templates, current_search.put_index_templates):
    for _ in put():
        pass
# Indices the release adds (a mapping of an alias the instance does not
# use is skipped by create, as by index init).
new = [i for i in sorted(current_search.mappings) if not client.indices.exists(index=build_alias_name(i))]
if new:
    for name, _ in current_search.create(ignore_existing=True, index_list=new):
        print("invenio-setup: made %s, new in this release" % name)
updated = 0
for i in sorted(current_search.mappings):
    if i in new:
        continue
    # OpenSearch refuses what cannot change in place (a field's type).
    try:
        current_search.update_mapping(i, check=False)
    except Exception as e:
        sys.exit("invenio-setup: the mapping of index %s cannot be updated in place (%s): "
                 "this release needs the index made again and filled (docs/lifecycle.md)" % (build_alias_name(i), e))
    updated += 1
print("invenio-setup: the mappings of %d indices updated" % updated)
PY
}

if [ "$status" = installed ]; then
  log "existing installation: upgrading"
  for s in migrations queues search custom-fields; do
    log "upgrade step $s"
    case $s in
      custom-fields) step_custom_fields ;;
      *) "upgrade_$s" ;;
    esac || {
      log "upgrade step $s failed (output above): the release's pods keep waiting, the old ones serve; the Job's next attempt runs the upgrade again"
      exit 1
    }
  done
  # The release's pods wait for this record (their init container).
  state released "$PLATFORM_RELEASE"
  log "upgrade done: $PLATFORM_RELEASE"
  exit 0
fi

# The order of invenio-cli 1.5's install for RDM 12, with "release" before
# the wait for the worker, which needs the release's pods.
steps="database files-location roles indices custom-fields app-fixtures queues vocabularies release vocabularies-loaded"
total=$(echo $steps | wc -w)
if [ "$status" = new ]; then
  log "new installation: $total steps"
else
  log "installation not finished by an earlier attempt: resuming"
fi
i=0
for s in $steps; do
  i=$((i + 1))
  if state ended "$s"; then
    log "step $i/$total $s: ended in an earlier attempt"
    continue
  fi
  resume=0
  if state interrupted "$s"; then
    resume=1
  fi
  # Recorded before it is announced: a step the log names has started.
  state started "$s"
  if [ "$resume" = 1 ]; then
    log "step $i/$total $s: resumed (an earlier attempt stopped in it)"
  else
    log "step $i/$total $s"
  fi
  # `if !` runs the step without errexit: each step function checks its
  # own commands, the last one's status is the step's.
  if ! "step_$(echo "$s" | tr - _)"; then
    log "step $i/$total $s failed (output above): the install is not done; the Job's next attempt resumes at this step"
    exit 1
  fi
  state finished "$s"
done
state finished installed
log "installation done"
