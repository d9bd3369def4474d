# The grading image: what a Dask worker (and its scheduler) needs to grade notebooks exactly as
# `python -m course_grading` does on one machine: the course package the kernels import, the
# grading side with Dask (requirements-grading.txt), bubblewrap and setpriv for the sandbox,
# and MNIST for the re-check of predict_digit.
#   docker build -f deploy/kubernetes/grading.Dockerfile -t REGISTRY/nn-python-grading:TAG .
# No masters inside: the grading command sends them to the workers with each run (see
# grader/course_grading/cluster.py), so the image can sit in a registry students might read.
# Put a Keras-format mnist.npz in deploy/kubernetes/data/ first (as for the single-user image).
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2 \
    DASK_DISTRIBUTED__WORKER__DAEMON=False \
    DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap util-linux \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/nn-python
COPY requirements.txt requirements-grading.txt pyproject.toml README.md nbgrader_config.py ./
COPY course_utils ./course_utils
COPY grader ./grader
RUN pip install -r requirements-grading.txt
COPY deploy/kubernetes/data/mnist.npz ./data/mnist.npz
ENV MNIST_PATH=/opt/nn-python/data/mnist.npz
# Root in the container: each grading kernel runs as an unprivileged user of its own, which
# the sandbox switches to (course_grading.sandbox); the pod grants only what bubblewrap needs.
WORKDIR /tmp
CMD ["dask", "worker", "--help"]
