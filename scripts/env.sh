# Sourced by the project's scripts after setup.sh: LIBTORCH points at the
# libtorch of the .venv's torch wheel, which the trainer (tch) builds against.
LIBTORCH="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/torch"
export LIBTORCH
