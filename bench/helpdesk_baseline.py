"""django-helpdesk, a real open-source Python help desk, as the intake benchmark's baseline.

    .venv/bin/python bench/helpdesk_baseline.py [--seconds 15] [--connections 32 128]

Installs django-helpdesk (with Django REST framework and gunicorn) into its own virtual
environment (``.tmp/helpdesk-venv``, made once), writes a minimal Django project in a
temporary folder (SQLite, DRF token authentication, helpdesk's REST API on), migrates it,
creates a staff user, a queue and a token, serves it with gunicorn (``--workers`` processes)
and creates tickets through ``POST /api/tickets/`` with wrk: one JSON line per run.
``bench/intake.py`` runs this in the same run as Madoguchi and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LUA_REPORT, LUA_THREAD_IDS, free_port, wait_until_ok, wrk  # sibling module

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".tmp" / "helpdesk-venv"
PACKAGES = ["django-helpdesk>=2.6", "djangorestframework>=3.15", "gunicorn>=23"]

SETTINGS = """
SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.sites", "django.contrib.admin", "django.contrib.humanize",
    "django.contrib.messages", "rest_framework", "rest_framework.authtoken", "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchurls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                          "django.contrib.auth.context_processors.auth",
                          "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "DBPATH",
                         "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}}}
SITE_ID = 1
USE_TZ = True
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_API_ENABLED = True
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [
    "rest_framework.authentication.TokenAuthentication"]}
LOGGING = {"version": 1, "disable_existing_loggers": True}
"""

URLS = """
from django.urls import include, path
urlpatterns = [path("", include("helpdesk.urls"))]
"""

SETUP = """
import django
django.setup()
from django.contrib.auth import get_user_model
from helpdesk.models import Queue
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_user("bench", "bench@example.jp", "bench-password-1",
                                            is_staff=True, is_superuser=True)
queue = Queue.objects.create(title="Bench", slug="bench", allow_public_submission=True)
print(Token.objects.create(user=user).key, queue.id)
"""

LUA = (
    LUA_THREAD_IDS
    + """
request = function()
  counter = counter + 1
  local id = string.format("%d-%d-%d", tid, os.time(), counter)
  local body = string.format('{"queue":QUEUE,"title":"負荷試験 %s","description":"負荷試験の問い合わせ %s","submitter_email":"b%s@example.jp","priority":3}', id, id, id)
  return wrk.format("POST", "/api/tickets/", {
    ["Authorization"] = "Token TOKEN",
    ["Content-Type"] = "application/json",
  }, body)
end
"""
    + LUA_REPORT
)


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if subprocess.run([str(python), "-c", "import helpdesk, rest_framework, gunicorn"]).returncode:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True, timeout=900
        )
    return python


def run(connections: list[int], seconds: int, workers: int) -> dict[int, dict[str, float]]:
    """Tickets/s (and latency) per connection count."""
    python = ensure_venv()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "benchsettings.py").write_text(
            SETTINGS.replace("DBPATH", str(project / "helpdesk.db")), encoding="utf-8"
        )
        (project / "benchurls.py").write_text(URLS, encoding="utf-8")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchsettings", "PYTHONPATH": tmp}
        subprocess.run(
            [str(python), "-m", "django", "migrate", "--noinput", "-v", "0"],
            env=env,
            cwd=tmp,
            check=True,
            timeout=600,
        )
        made = subprocess.run(
            [str(python), "-c", SETUP], env=env, cwd=tmp, capture_output=True, text=True, check=True
        )
        token, queue = made.stdout.split()
        script = project / "post.lua"
        script.write_text(LUA.replace("TOKEN", token).replace("QUEUE", queue), encoding="utf-8")
        port = free_port()
        log = (project / "gunicorn.log").open("w")
        server = subprocess.Popen(
            [
                str(VENV / "bin" / "gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "django.core.wsgi:get_wsgi_application()",
            ],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Token {token}"}
            wait_until_ok(f"{url}/api/tickets/", headers)
            probe = httpx.post(
                f"{url}/api/tickets/",
                headers=headers,
                json={
                    "queue": int(queue),
                    "title": "確認",
                    "description": "確認",
                    "submitter_email": "p@example.jp",
                    "priority": 3,
                },
                timeout=10,
            )
            if probe.status_code != 201:
                raise SystemExit(
                    f"django-helpdesk refused a ticket: {probe.status_code} {probe.text[:300]}"
                )
            for count in connections:
                results[count] = wrk(url, script, count, seconds)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for count, figures in run(args.connections, args.seconds, args.workers).items():
        ok = figures["requests"] - figures["non2xx"]
        print(
            json.dumps(
                {
                    "bench": "django-helpdesk",
                    "connections": count,
                    "workers": args.workers,
                    "tickets_per_s": round(ok / figures["seconds"], 1),
                    "p50_ms": figures["p50_ms"],
                    "p99_ms": figures["p99_ms"],
                    "non_2xx": figures["non2xx"],
                    "errors": figures["errors"],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
