# Image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TRUSTCONSOLE_DATA_DIR=/data
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
# collectstatic needs settings to load; the keys are used for this step only (a fresh
# encryption key that nothing is ever encrypted with).
RUN SECRET_KEY=collectstatic-build-step \
    ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput
RUN useradd --system --home /app trustconsole && mkdir -p /data && chown -R trustconsole /data
USER trustconsole
EXPOSE 8000
# Collect again at start: a volume mounted on /data hides (or keeps an old copy of)
# the files collected at build time, and a missing manifest makes every page a 500.
CMD ["sh", "-c", "python manage.py collectstatic --noinput -v0 && exec gunicorn trustconsole.wsgi --config python:trustconsole.gunicorn_conf --bind 0.0.0.0:8000 --workers 3 --no-control-socket --access-logfile -"]
