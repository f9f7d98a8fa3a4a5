#!/bin/sh
# Print the path of a working Python 3.12 or 3.13 interpreter, or fail with a clear message.
# Each candidate is *run*, because pyenv shims exist on PATH even when they cannot start.
ok='import sys; sys.exit(0 if sys.version_info[:2] in ((3, 12), (3, 13)) else 1)'
for candidate in python3.13 python3.12; do
    if "$candidate" -c "$ok" >/dev/null 2>&1; then
        "$candidate" -c 'import sys; print(sys.executable)'
        exit 0
    fi
done
if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | sort -r -V); do
        case "$version" in
            3.13*|3.12*)
                if PYENV_VERSION="$version" python -c "$ok" >/dev/null 2>&1; then
                    PYENV_VERSION="$version" python -c 'import sys; print(sys.executable)'
                    exit 0
                fi ;;
        esac
    done
fi
echo "error: no working Python 3.12 or 3.13 found (tried python3.13, python3.12 and pyenv's versions)." >&2
echo "       Mesa 3.5 needs Python >= 3.12 and Hydra 1.3 does not support 3.14: install 3.12 or 3.13." >&2
exit 1
