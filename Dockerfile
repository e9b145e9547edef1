# RigRank image used by docker-compose.yml for web, worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends procps && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input --verbosity 0
# Run as an unprivileged user: the code and collected static files stay root-owned and
# read-only to the processes that serve them.
RUN groupadd --system --gid 10001 rigrank \
    && useradd --system --uid 10001 --gid rigrank --home-dir /app --shell /usr/sbin/nologin rigrank
USER rigrank:rigrank
EXPOSE 8000
CMD ["gunicorn", "rigrank.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
