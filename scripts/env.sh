# Sourced by the run/test scripts: installs what is missing (scripts/bootstrap.sh) and exports the
# toolchain environment it prints. Only `export NAME=...` lines are evaluated; anything else on the
# bootstrap's stdout is a bug in it and stops the run with the offending line.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bootstrap_env=$(bash "$ROOT/scripts/bootstrap.sh" --print-env)
while IFS= read -r line; do
  case "$line" in
    "export "[A-Z_]*=*) eval "$line" ;;
    "") ;;
    *) echo "scripts/env.sh: unexpected bootstrap output: $line" >&2; exit 1 ;;
  esac
done <<<"$bootstrap_env"
