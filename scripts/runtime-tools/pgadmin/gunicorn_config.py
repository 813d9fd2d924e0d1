# Stand-in for the dpage/pgadmin4 image's /pgadmin4/gunicorn_config.py
# (pkg/docker/gunicorn_config.py of pgAdmin 8.14): hides gunicorn's
# version from the Server header.
import gunicorn

gunicorn.SERVER_SOFTWARE = "Python"
