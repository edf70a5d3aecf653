# stylebot: one image for the chat process and the workers (README, "Scaling out").
#   docker build -t stylebot .                       # CPU-only torch (see below)
#   docker build --build-arg TORCH_INDEX=https://pypi.org/simple -t stylebot:cuda .   # the CUDA build
# Weights are never baked in: mount a folder with them at /weights (STYLEBOT_WEIGHTS_DIR).
FROM python:3.11-slim

# PyTorch's own CPU index: its wheels leave out the CUDA libraries (several GB with the default PyPI
# wheels), which a CPU host never loads. Pass another index for a GPU host. (The image was not built
# where this was written: Docker cannot run there; its size is to be measured on first build.)
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    STYLEBOT_WEIGHTS_DIR=/weights STYLEBOT_DATA_DIR=/data STYLEBOT_OFFLINE=1 STYLEBOT_HEALTH_LISTEN=0.0.0.0:8080

WORKDIR /app
RUN pip install --index-url "$TORCH_INDEX" torch==2.14.1 torchvision==0.29.1
COPY . .
# `pip install .` brings everything else as wheels, FFmpeg with libx264 for clips inside PyAV's (README, "Clips")
RUN pip install . && useradd --create-home --uid 10001 stylebot && mkdir -p /data /weights \
    && chown stylebot /data
USER stylebot
VOLUME ["/data"]

# The chat process by default; compose.yaml runs workers with `python -m bots.worker`.
CMD ["python", "run_full.py"]
# Its /healthz (README, "Operating the bot"): the update loop, the store and the workers answer
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=5).status != 200)"]
