FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY routerweb ./routerweb
COPY engine ./engine
COPY providers ./providers
COPY routers ./routers
COPY decisions ./decisions
COPY chat ./chat
COPY gateway ./gateway
COPY accounts ./accounts
COPY audit ./audit
RUN pip install .

COPY . .
# collectstatic needs settings; these throwaway values are only used at build time.
RUN DEBUG=0 SECRET_KEY=build FIELD_ENCRYPTION_KEY=ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2U= \
    python manage.py collectstatic --no-input \
 && useradd --create-home --uid 1000 routerweb && mkdir -p /app/media && chown -R routerweb /app/media
USER routerweb

EXPOSE 8000
CMD ["uvicorn", "routerweb.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
