# Sourced by scripts/test: `ensure_browser` installs Debian's Chromium and
# ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver), which the browser
# tests (tests/src/browser.rs) drive. A test tool's own browser download
# cannot reach its servers from here; Debian's packages can.

ensure_browser() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        return 0
    fi
    echo "browser: installing chromium and chromium-driver from Debian's packages" >&2
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo > /dev/null; then
            as_root=(sudo)
        else
            echo "browser: chromium or chromedriver is missing, and installing them needs root (apt-get install chromium chromium-driver)" >&2
            exit 1
        fi
    fi
    command -v apt-get > /dev/null || { echo "browser: chromium or chromedriver is missing and there is no apt-get to install them" >&2; exit 1; }
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver > /dev/null
    if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
        echo "browser: chromium or chromium-driver did not install (/usr/bin/chromium, /usr/bin/chromedriver)" >&2
        exit 1
    fi
    /usr/bin/chromedriver --version >&2 || true
}
