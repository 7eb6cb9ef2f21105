//! A real browser for the tests: Debian's headless Chromium, driven over
//! WebDriver by its ChromeDriver, to see a page as a person would: whether
//! it scrolls sideways on a phone, what a form posts, what it looks like.
//!
//! ```no_run
//! # async fn f() {
//! let browser = accueil_e2e::browser::Browser::start().await;
//! browser.set_size(390, 844).await;
//! browser.open("http://127.0.0.1:8080/").await;
//! assert_eq!(browser.horizontal_overflow().await, 0);
//! browser.screenshot("home-390x844").await;
//! # }
//! ```
//!
//! Chromium and ChromeDriver come from Debian's packages, which
//! `scripts/test` installs (`ensure_browser` in `scripts/lib/browser.sh`).
//! Without them a test fails; it never skips.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One headless Chromium and the ChromeDriver that drives it: one a test.
pub struct Browser {
    client: Client,
    _driver: Driver,
}

impl Browser {
    /// Starts ChromeDriver on a free loopback port and opens a session in a
    /// new headless Chromium with an empty profile, its viewport 1280×800.
    pub async fn start() -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: the browser tests need Debian's chromium and \
                 chromium-driver; install them with `ensure_browser` from \
                 scripts/lib/browser.sh (scripts/test calls it)"
            );
        }
        let driver = Driver::start();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // The machine's network is closed: without these, Chromium's own
            // background connections are refused, many at a time.
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!(
                "--user-data-dir={}",
                driver.dir.path().join("profile").display()
            ),
            // Scrollbars then take no width: a page lays out to the viewport.
            "--hide-scrollbars",
        ];
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }) else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("no browser session: {e}\n{}", driver.log()));
        let browser = Browser {
            client,
            _driver: driver,
        };
        browser.set_size(1280, 800).await;
        browser
    }

    /// Sizes the window so that the page's viewport, `window.innerWidth` by
    /// `window.innerHeight`, is exactly `width` by `height` CSS pixels.
    pub async fn set_size(&self, width: u32, height: u32) {
        // A window's size may count browser chrome: what the viewport lacks
        // at one size is added at the next.
        let (mut outer_width, mut outer_height) = (width, height);
        for _ in 0..3 {
            self.client
                .set_window_size(outer_width, outer_height)
                .await
                .unwrap_or_else(|e| panic!("sizing the window {outer_width}×{outer_height}: {e}"));
            let (inner_width, inner_height) = self.viewport().await;
            if (inner_width, inner_height) == (width, height) {
                return;
            }
            outer_width = outer_width + width - inner_width;
            outer_height = outer_height + height - inner_height;
        }
        panic!(
            "the viewport is {:?}, not {width}×{height}",
            self.viewport().await
        );
    }

    /// The page's viewport, in CSS pixels.
    pub async fn viewport(&self) -> (u32, u32) {
        let size = self
            .script("return [window.innerWidth, window.innerHeight]")
            .await;
        serde_json::from_value(size).unwrap()
    }

    /// Loads `url`, and waits until it has loaded.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// How many CSS pixels the page is wider than its viewport: what a
    /// reader scrolls sideways, 0 when it fits. When it is more, the element
    /// that reaches furthest right is printed, for the failure's output.
    pub async fn horizontal_overflow(&self) -> i64 {
        let measured = self
            .script(
                "const overflow = document.documentElement.scrollWidth - window.innerWidth;
                let widest = null;
                for (const e of overflow > 0 ? document.body.querySelectorAll('*') : []) {
                    const right = e.getBoundingClientRect().right + window.scrollX;
                    if (!widest || right > widest.right) widest = { e, right };
                }
                return [overflow, widest && widest.e.tagName.toLowerCase()
                    + [...widest.e.classList].map(c => '.' + c).join('')
                    + ', its right edge at ' + Math.round(widest.right) + ' px'];",
            )
            .await;
        let overflow = measured[0].as_i64().unwrap();
        if overflow > 0 {
            eprintln!(
                "{}: {overflow} px wider than its {} px viewport; furthest right: {}",
                self.current_url().await,
                self.viewport().await.0,
                measured[1].as_str().unwrap_or("no element")
            );
        }
        overflow
    }

    /// Saves what the viewport shows as `target/screenshots/{name}.png`, a
    /// test's artifact, and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("taking the screenshot {name}: {e}"));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Types `text` into the field that `css` selects.
    pub async fn fill(&self, css: &str, text: &str) {
        self.find(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Clicks what `css` selects, a submit button, and waits until the page
    /// that answers has loaded.
    pub async fn submit(&self, css: &str) {
        // ChromeDriver's click may return before the navigation it starts:
        // a mark on this document tells the next one apart.
        self.script("window.accueilSubmitted = true").await;
        self.click(css).await;
        let loaded =
            "return window.accueilSubmitted === undefined && document.readyState === 'complete'";
        let deadline = Instant::now() + Duration::from_secs(10);
        // Errors too while the old document gives way to the new one.
        while !matches!(
            self.client.execute(loaded, vec![]).await,
            Ok(Value::Bool(true))
        ) {
            assert!(
                Instant::now() < deadline,
                "no new page 10 s after clicking {css}, on {}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Clicks what `css` selects.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// The text of the page's body, as a reader sees it.
    pub async fn text(&self) -> String {
        self.find("body")
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the page's text: {e}"))
    }

    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("reading the page's URL: {e}"))
            .to_string()
    }

    /// Runs `script` in the page, and returns what it returns.
    pub async fn script(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("running a script in the page: {e}\n{script}"))
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("finding {css}: {e}"))
    }
}

/// ChromeDriver, listening on loopback, with a folder for its log and
/// Chromium's profile. Dropped, it kills both and removes the folder.
struct Driver {
    process: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("chromedriver.log")).unwrap();
        let process = Command::new(CHROMEDRIVER)
            // A port it picks itself and tells: one picked here could be
            // taken by a parallel test's listener before ChromeDriver binds.
            .arg("--port=0")
            // Chromium's temporary files too land in the folder Drop removes.
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // A group of its own, which Chromium's processes join: Drop
            // kills them all, however the test ended.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} did not start: {e}"));
        let mut driver = Driver {
            process,
            url: String::new(),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = driver.log();
            let started = log.split("started successfully on port ").nth(1);
            if let Some(port) = started.and_then(|s| s.split('.').next()?.parse::<u16>().ok()) {
                driver.url = format!("http://127.0.0.1:{port}");
                return driver;
            }
            if let Some(status) = driver.process.try_wait().unwrap() {
                panic!("{CHROMEDRIVER} exited: {status}\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "{CHROMEDRIVER} has not started after 10 s\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.process.wait();
    }
}
