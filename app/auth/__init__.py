"""Signing in and out, and the interface language: the pages. The checks every
blueprint uses (who is signed in, with which role) are in app/web/auth.py."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401
