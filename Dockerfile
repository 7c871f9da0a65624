FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first (a layer rebuilt only when pyproject.toml changes); the app runs from /app.
COPY pyproject.toml ./
COPY scripts/requirements.py ./scripts/
RUN python scripts/requirements.py pyproject.toml > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY . .
# The same script .ci/run runs: hashed static files (DEBUG off) and `check --deploy`.
RUN bash scripts/production-build.sh \
 && useradd --create-home --uid 1000 routerweb && mkdir -p /app/media && chown -R routerweb /app/media
USER routerweb

EXPOSE 8000
CMD ["bash", "scripts/start-web.sh"]
