# The instructors' single-user image (values.yaml, profile "instructor"): the students' image
# plus the grading side, so an instructor grades in their own pod exactly as on one machine
# (`python -m course_grading ... --jobs 4`, each kernel in the bubblewrap sandbox), or sends
# the work to the Dask grading cluster (--scheduler). Built from this repository:
#   docker build -f deploy/kubernetes/instructor.Dockerfile -t REGISTRY/nn-python-instructor:TAG .
# No masters inside (solutions/): the image may sit in a registry students can read.
# Instructors clone their private copy of the course into their home (docs/instructors.md
# section 8) and grade from there. Put mnist.npz in deploy/kubernetes/data/ first.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2
# bubblewrap and setpriv (util-linux) for the sandbox; git to clone the private course copy.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap util-linux git \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 jovyan

WORKDIR /opt/nn-python
COPY requirements.txt requirements-grading.txt pyproject.toml README.md ./
COPY course_utils ./course_utils
COPY grader ./grader
RUN pip install -r requirements-grading.txt "jupyterhub>=5.5,<6"
# As in the students' image (Dockerfile): installed without its outdated declared pins.
RUN pip install --no-deps "ngshare_exchange==0.5.3" && pip install "rapidfuzz>=3,<4"
COPY deploy/kubernetes/data/mnist.npz ./data/mnist.npz
ENV MNIST_PATH=/opt/nn-python/data/mnist.npz

# The pod runs as root (values.yaml says why: the sandbox switches each grading kernel to an
# unprivileged user of its own), so the Jupyter server must be allowed to run as root.
RUN mkdir -p /etc/jupyter/jupyter_server_config.d \
    && printf '{"ServerApp": {"allow_root": true}}\n' \
       > /etc/jupyter/jupyter_server_config.d/nn-python-instructor.json
ENV HOME=/home/jovyan
WORKDIR /home/jovyan
EXPOSE 8888
CMD ["jupyterhub-singleuser"]
