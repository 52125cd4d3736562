# The simulated sensor fleet.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared shared
COPY edge edge
COPY cloud cloud
COPY firmware_sim firmware_sim
COPY citytwin citytwin
RUN pip install --no-cache-dir '.[sim]' && rm -rf /src
ENTRYPOINT ["citytwin", "sim", "run"]
