# The gateway agent: only citytwin[edge] (no web framework, no training library).
# Build from the repository root: docker build -f docker/edge.Dockerfile -t citytwin-edge .
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared shared
COPY edge edge
COPY cloud cloud
COPY firmware_sim firmware_sim
COPY citytwin citytwin
RUN pip install --no-cache-dir '.[edge]' && rm -rf /src
WORKDIR /var/lib/citytwin
VOLUME /var/lib/citytwin
ENTRYPOINT ["citytwin", "edge", "run"]
CMD ["--config", "/etc/citytwin/gateway.toml"]
