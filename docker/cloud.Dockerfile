# The cloud aggregator on its embedded SQLite store.
# Build from the repository root: docker build -f docker/cloud.Dockerfile -t citytwin-cloud .
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared shared
COPY edge edge
COPY cloud cloud
COPY firmware_sim firmware_sim
COPY citytwin citytwin
RUN pip install --no-cache-dir '.[cloud]' && rm -rf /src
WORKDIR /var/lib/citytwin
VOLUME /var/lib/citytwin
EXPOSE 8000
ENTRYPOINT ["citytwin", "cloud", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--database", "/var/lib/citytwin/cloud.db"]
