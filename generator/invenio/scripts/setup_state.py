# Generated: the install record of setup.sh, in the application's database.
#
# Table invenio_setup_step: one row per install step, with when it started
# and when it ended (NULL while running, or when an attempt died in it).
# The install is done when the row "installed" has ended. Only SQLAlchemy
# and the database URL are needed (no application: each call takes well
# under a second).
#
#   status              prints new | resume | installed; exit 1 when the
#                       database cannot be reached (never a new install)
#   restored            (backup.restore) exit 0 once the restore Job has
#                       ended the row "restore"; 1 while it has not (an
#                       empty database included); 2 when the database cannot
#                       be read. Read only: the restore Job restores only
#                       into an empty database.
#   ended <step>        exit 0 if the step has ended
#   interrupted <step>  exit 0 if the step started and never ended
#   started <step>      records the step's start
#   finished <step>     records the step's end
#   released <image>    records that the image's database and indices are
#                       in place (row "release <image>")
#   wait-release <image>
#                       waits until they are (the application pods' init
#                       container): every 5 seconds, without end; Flux's
#                       health check of the app layer reports a wait that
#                       does not end
import os
import sys
import time

import sqlalchemy as sa

TABLE = "invenio_setup_step"

# A database the setup may create itself ("invenio db init") is the only
# error that means a new installation; anything else (refused, timed out,
# bad password) must not be read as one.
MISSING_DATABASE = "does not exist"


def engine():
    return sa.create_engine(
        os.environ["INVENIO_SQLALCHEMY_DATABASE_URI"],
        connect_args={"connect_timeout": 10},
        poolclass=sa.pool.NullPool,
    )


def ensure_table(conn):
    conn.execute(sa.text(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " step text PRIMARY KEY,"
        " started timestamptz NOT NULL,"
        " ended timestamptz)"))


def status():
    try:
        eng = engine()
        conn = eng.connect()
    except sa.exc.OperationalError as e:
        if MISSING_DATABASE in str(e):
            return "new"
        sys.exit("invenio-setup: cannot reach the database (%s): a database "
                 "that cannot be reached is not a new installation; the Job's "
                 "next attempt tries again" % str(e).strip().splitlines()[0])
    with conn, conn.begin():
        insp = sa.inspect(conn)
        tables = set(insp.get_table_names())
        if TABLE in tables:
            done = conn.execute(sa.text(
                f"SELECT 1 FROM {TABLE} WHERE step = 'installed' AND ended IS NOT NULL")).first()
            if done:
                return "installed"
            started = conn.execute(sa.text(f"SELECT 1 FROM {TABLE}")).first()
            return "resume" if started or tables != {TABLE} else "new"
        ensure_table(conn)
        if not tables:
            return "new"
        # Installed by a setup.sh that kept no record: adopted only if its
        # last steps left their mark (roles made, vocabularies loaded);
        # otherwise every step runs again, each safe after a partial run.
        if {"alembic_version", "accounts_role", "vocabularies_types"} <= tables:
            admin = conn.execute(sa.text("SELECT 1 FROM accounts_role WHERE name = 'admin'")).first()
            vocab = conn.execute(sa.text("SELECT 1 FROM vocabularies_types WHERE id = 'resourcetypes'")).first()
            if admin and vocab:
                conn.execute(sa.text(
                    f"INSERT INTO {TABLE} (step, started, ended) VALUES ('installed', now(), now())"))
                return "installed"
        return "resume"


def restored():
    try:
        with engine().connect() as conn:
            if TABLE not in sa.inspect(conn).get_table_names():
                return 1
            row = conn.execute(sa.text(
                f"SELECT 1 FROM {TABLE} WHERE step = 'restore' AND ended IS NOT NULL")).first()
            return 0 if row else 1
    except sa.exc.SQLAlchemyError as e:
        print("invenio-setup: cannot read the database, still waiting: %s" % str(e).strip().splitlines()[0], flush=True)
        return 2


def query(sql, step):
    with engine().connect() as conn:
        return conn.execute(sa.text(sql), {"step": step}).first() is not None


def record(sql, step):
    try:
        conn = engine().connect()
    except sa.exc.OperationalError as e:
        # Before "invenio db init" has made the database there is nowhere
        # to record the start; the end is recorded once it exists.
        if MISSING_DATABASE in str(e):
            return
        raise
    with conn, conn.begin():
        ensure_table(conn)
        conn.execute(sa.text(sql), {"step": step})


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "status":
        print(status())
    elif cmd == "restored":
        sys.exit(restored())
    elif cmd == "ended":
        sys.exit(0 if query(f"SELECT 1 FROM {TABLE} WHERE step = :step AND ended IS NOT NULL", args[0]) else 1)
    elif cmd == "interrupted":
        sys.exit(0 if query(f"SELECT 1 FROM {TABLE} WHERE step = :step AND ended IS NULL", args[0]) else 1)
    elif cmd == "started":
        record(f"INSERT INTO {TABLE} (step, started) VALUES (:step, now()) "
               "ON CONFLICT (step) DO UPDATE SET started = now(), ended = NULL", args[0])
    elif cmd == "finished":
        record(f"INSERT INTO {TABLE} (step, started, ended) VALUES (:step, now(), now()) "
               "ON CONFLICT (step) DO UPDATE SET ended = now()", args[0])
    elif cmd == "released":
        record(f"INSERT INTO {TABLE} (step, started, ended) VALUES (:step, now(), now()) "
               "ON CONFLICT (step) DO UPDATE SET ended = now()", "release " + args[0])
    elif cmd == "wait-release":
        wait_release(args[0])
    else:
        sys.exit("setup_state.py: unknown command %r" % cmd)


def wait_release(image):
    step, said, since = "release " + image, 0, time.time()
    while True:
        try:
            if query(f"SELECT 1 FROM {TABLE} WHERE step = :step AND ended IS NOT NULL", step):
                print("invenio-setup: %s is in place: starting" % image, flush=True)
                return
            why = "the setup Job has not put it in place yet"
        except sa.exc.SQLAlchemyError as e:
            why = "the database: %s" % str(e).strip().splitlines()[0]
        if time.time() >= said:
            print("invenio-setup: waiting %ds for %s: %s" % (time.time() - since, image, why), flush=True)
            said = time.time() + 60
        time.sleep(5)


if __name__ == "__main__":
    main(sys.argv)
