# Sourced by the scripts that need a Python tool: install_venv VENV NAME
# makes the virtualenv VENV hold exactly scripts/requirements-NAME.txt, the
# lock that scripts/lock-python writes (every package pinned, with hashes:
# pip refuses anything else). It installs again only when the lock changed.

install_venv() {
    local venv=$1 lock="scripts/requirements-$2.txt"
    local stamp="$venv/.installed-$(sha256sum "$lock" | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        echo "Installing $lock (the tools of scripts/requirements-$2.in) into $venv…" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check \
            --require-hashes --no-deps -r "$lock"
        touch "$stamp"
    fi
}
