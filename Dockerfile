# GPU image with exactly the project's pins. PyPI's torch==2.13.0 wheel for Linux x86_64 is the
# CUDA build and brings its CUDA libraries as pip packages, so the host needs only the NVIDIA
# driver and `--gpus all` (the NVIDIA container toolkit).
#   docker build -t lst-lightning .
#   docker run --gpus all -v /data/lst:/data -v $PWD/logs:/app/logs lst-lightning \
#       trainer=gpu data=israel data.lst_dir=/data/lst data.dem=/data/israel_dem_1km.tif
FROM python:3.11-slim-bookworm

WORKDIR /app
ENV PYTHONUNBUFFERED=1 MPLBACKEND=Agg LST_ROOT=/app PIP_NO_CACHE_DIR=1
# the same order as the Makefile: torch pinned first, then the pins, then the sweeper without deps
COPY requirements.txt pyproject.toml README.md ./
RUN pip install torch==2.13.0 \
 && pip install -r requirements.txt \
 && pip install --no-deps hydra-optuna-sweeper==1.3.0
COPY lst_lightning ./lst_lightning
# conf is a link to lst_lightning/conf (the configs ship inside the package)
COPY conf ./conf
COPY scripts ./scripts
COPY benchmarks ./benchmarks
COPY train.py ./
RUN pip install --no-deps --no-build-isolation -e .
# data/ and logs/ are volumes: the synthetic archive, caches, runs and the MLflow store
VOLUME ["/app/data", "/app/logs"]
ENTRYPOINT ["python", "train.py"]
