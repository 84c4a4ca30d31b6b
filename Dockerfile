# GPU image: CUDA PyTorch base with the project's pins. Build: docker build -t lst-lightning .
# Run:  docker run --gpus all -v /data/lst:/data -v $PWD/logs:/app/logs lst-lightning \
#         trainer=gpu data=israel data.lst_dir=/data/lst data.dem=/data/dem.tif
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

WORKDIR /app
ENV PYTHONUNBUFFERED=1 MPLBACKEND=Agg LST_ROOT=/app
COPY requirements.txt pyproject.toml README.md ./
# torch comes from the base image (CUDA build); the rest are the pinned requirements
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps hydra-optuna-sweeper==1.3.0
COPY lst_lightning ./lst_lightning
COPY conf ./conf
COPY scripts ./scripts
COPY train.py ./
RUN pip install --no-cache-dir --no-deps -e .
ENTRYPOINT ["python", "train.py"]
