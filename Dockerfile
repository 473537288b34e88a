# Mirsam: one image for the web, worker and beat processes (see compose.yaml).
# docker build -t mirsam . && docker run --env-file .env -p 8000:8000 mirsam
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 mirsam

COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays root-owned and read-only for the app user; only var/ is its own
# (SQLite, local media and the filesystem broker when those defaults are used).
COPY . .
RUN mkdir -p var && chown mirsam:mirsam var

# Hashed, compressed static files for WhiteNoise. The settings refuse to load in
# production mode without a key and hosts: give throwaway ones to this step only.
RUN DEBUG=false SECRET_KEY=collectstatic-only-not-used-at-runtime ALLOWED_HOSTS=build.invalid \
    MIRSAM_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput

USER mirsam
ENV DEBUG=false PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/healthz', timeout=4)"

# gunicorn.conf.py reads PORT, WEB_CONCURRENCY and the timeouts from the environment.
# Worker: celery -A config worker --loglevel=INFO; beat: celery -A config beat --loglevel=INFO.
CMD ["gunicorn", "config.wsgi"]
