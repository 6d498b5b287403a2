# One image for every part of facecluster on Cloud Run:
#   detection service  (default CMD)             functions-framework, target detect_push
#   app functions      (Cloud Run sets args)     --target=ml_enqueue | ml_callback | face_persons | face_person_actions
#   clustering job     (Cloud Run Job command)   python -m jobs.cluster_event --event-id <uuid>
#   migrations         (Cloud Build step)        facecluster db migrate
# One image keeps the deployed parts on the same code and models; the ML libraries are
# needed by detection and clustering anyway, and the functions pay only disk, not memory.
#
# Build:  docker build --build-arg MODEL_PACK=yunet-reid256 -t facecluster .
# Expected size: about 1.0 GB uncompressed, 0.35 GB compressed (docs/deployment.md, "The image").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------- builder
# Everything that may need a compiler happens here; none of it reaches the final stage.
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A compiler only for a dependency that has no wheel for this platform (none today:
# dlib-bin, hdbscan and the rest ship manylinux wheels; face-recognition-models is an sdist
# that builds with setuptools alone).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.9 \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"] + p["optional-dependencies"]["ml"]))' > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# face-recognition-models ships four dlib files (132 MB); the recogniser uses the ResNet
# embedder and the 5-point shape predictor. The 68-point predictor (100 MB) and the MMOD
# CNN detector are never loaded: dropping them takes 100 MB off the image.
ARG DLIB_UNUSED_MODELS="shape_predictor_68_face_landmarks.dat mmod_human_face_detector.dat"
RUN models_dir="$(python -c 'import face_recognition_models, os; print(os.path.dirname(face_recognition_models.__file__))')/models" \
 && for name in $DLIB_UNUSED_MODELS; do rm -f "$models_dir/$name"; done

# The openvino wheel carries readers for TensorFlow, TF Lite, PyTorch, PaddlePaddle, JAX, GGUF and
# ONNX models and a plugin for Intel NPUs (~30 MB together). The recogniser is an OpenVINO IR run
# on the CPU (or an Intel GPU), so only the IR reader and the CPU/GPU plugins are kept.
ARG OPENVINO_UNUSED_LIBS="tensorflow_frontend tensorflow_lite_frontend pytorch_frontend paddle_frontend jax_frontend gguf_frontend onnx_frontend intel_npu_plugin"
RUN openvino_libs="$(python -c 'import openvino, os; print(os.path.dirname(openvino.__file__))')/libs" \
 && for name in $OPENVINO_UNUSED_LIBS; do rm -f "$openvino_libs/libopenvino_$name".so*; done

# The code. The package is installed editable: migrations and other data files are found
# relative to the source tree (/app), which is copied as a whole into the final stage.
# Production code only: localdev/ (the demo, its local stack and the review page) is never copied,
# so the install finds no such package (tests/deploy/test_image_contents.py).
COPY shared ./shared
COPY functions ./functions
COPY jobs ./jobs
COPY infra/supabase ./infra/supabase
# Bytecode is kept (and compiled for /app, which the runtime user cannot write): a cold start
# then imports without compiling. The libraries' own test suites (~65 MB) are not.
RUN pip install --no-deps -e . \
 && find /opt/venv -type d -name tests -prune -exec rm -rf {} + \
 && python -m compileall -q /app/shared /app/functions /app/jobs

# ---------------------------------------------------------------------------- models
# The selected model pack, downloaded at build time and checked against its pinned SHA-256
# by `facecluster models fetch` (the build fails on a mismatch). Nothing is downloaded at
# run time: a cold start never waits on, or trusts, the network for weights.
# EXTRA_MODEL_PACKS (space-separated) are the packs of events not yet re-embedded after
# MODEL_PACK changed: their new photos are still analysed with their own pack.
FROM builder AS models
ARG MODEL_PACK=yunet-reid256
ARG EXTRA_MODEL_PACKS=""
ENV FACECLUSTER_MODEL_DIR=/opt/facecluster/models \
    FACECLUSTER_DATA_DIR=/tmp/facecluster
RUN for pack in "$MODEL_PACK" $EXTRA_MODEL_PACKS; do facecluster models fetch "$pack" || exit 1; done

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ARG MODEL_PACK=yunet-reid256
LABEL org.opencontainers.image.title="facecluster" \
      org.opencontainers.image.description="Face detection and clustering backend (Cloud Run service, functions, job)" \
      org.opencontainers.image.source="facecluster" \
      facecluster.model-pack="${MODEL_PACK}"

# No compiler, no apt packages: opencv-python-headless needs no libGL, onnxruntime, openvino,
# dlib-bin and pillow-heif bring their own shared libraries in their wheels.
RUN groupadd --system --gid 10001 facecluster \
 && useradd --system --uid 10001 --gid facecluster --home-dir /app --shell /usr/sbin/nologin facecluster

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
COPY --from=models /opt/facecluster/models /opt/facecluster/models

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    MODEL_PACK=${MODEL_PACK} \
    FACECLUSTER_MODEL_DIR=/opt/facecluster/models \
    FACECLUSTER_DATA_DIR=/tmp/facecluster \
    FUNCTION_SOURCE=/app/functions/main.py \
    FUNCTION_TARGET=detect_push

WORKDIR /app
USER 10001:10001
EXPOSE 8080

# Cloud Run ignores HEALTHCHECK (Terraform sets its own startup and liveness probes on
# /health); this one serves `docker run` and other runtimes, for the default CMD.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4)"]

# functions-framework reads PORT, FUNCTION_SOURCE and FUNCTION_TARGET from the environment;
# each function's Cloud Run service passes --target=<name> as args.
ENTRYPOINT ["functions-framework"]
CMD ["--target=detect_push"]
