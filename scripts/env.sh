# Sourced by the run/test scripts: installs what is missing (scripts/bootstrap.sh) and exports the
# toolchain environment it prints.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bootstrap_env=$(bash "$ROOT/scripts/bootstrap.sh" --print-env)
eval "$bootstrap_env"
