# Stand-in for the dpage/pgadmin4 image's /pgadmin4/run_pgadmin.py
# (pkg/docker/run_pgadmin.py of pgAdmin 8.14): the WSGI entry point of the
# server mode, what the image's gunicorn loads as run_pgadmin:app.
import builtins

builtins.SERVER_MODE = True

from pgAdmin4 import app  # noqa: E402,F401
