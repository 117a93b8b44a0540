"""Tests of the production layout: nginx, gunicorn, workers, PostgreSQL, Redis, SMTP."""
