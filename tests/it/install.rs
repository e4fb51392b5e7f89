//! `.mlops/install.sh`, the installer `mlops init` puts in a repository for CI:
//! it downloads a release archive over HTTP, installs it only when its SHA-256
//! matches (SHA256SUMS, or a pinned `MLOPS_SHA256`), and reads the version
//! from `mlops.toml`. The release is the binary under test, packed as the
//! release workflow packs it and served from 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::{capture, Out};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const WRONG_SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The release target of this machine, as install.sh names it.
fn target() -> &'static str {
    match (std::env::consts::ARCH, std::env::consts::OS) {
        ("x86_64", "linux") => "x86_64-unknown-linux-musl",
        ("aarch64", "linux") => "aarch64-unknown-linux-musl",
        ("x86_64", "macos") => "x86_64-apple-darwin",
        ("aarch64", "macos") => "aarch64-apple-darwin",
        (arch, os) => panic!("install.sh has no release for {arch} {os}"),
    }
}

fn archive_name() -> String {
    format!("mlops-{VERSION}-{}.tar.gz", target())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".mlops-template/.mlops/install.sh")
}

/// A minimal static file server on an ephemeral port of 127.0.0.1 (GET only,
/// HTTP/1.0 semantics: one request per connection). Stopped on drop.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(root: PathBuf) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let root = root.clone();
                    std::thread::spawn(move || serve(stream, &root));
                }
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, root: &Path) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("a socket clone"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // Skip the headers.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let safe = path.starts_with('/')
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    let file = root.join(path.trim_start_matches('/'));
    match std::fs::read(&file) {
        Ok(body) if method == "GET" && safe && file.is_file() => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
        _ => {
            let body = b"not found\n";
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

/// Two release sites served from one temp dir: `good/` with a right
/// SHA256SUMS, `badsums/` whose SHA256SUMS has a wrong hash for the archive.
/// Built once and shared by the tests running at the same time (packing the
/// binary takes seconds), dropped with the last of them.
struct Release {
    _tmp: tempfile::TempDir,
    server: Server,
    sha256: String,
}

impl Release {
    fn build() -> Release {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let stage = tmp.path().join("stage");
        std::fs::create_dir_all(&stage).unwrap();
        let binary = assert_cmd::cargo::cargo_bin("mlops");
        std::fs::copy(&binary, stage.join("mlops")).expect("the mlops binary is built");

        let good = tmp.path().join("good").join(format!("v{VERSION}"));
        let bad = tmp.path().join("badsums").join(format!("v{VERSION}"));
        std::fs::create_dir_all(&good).unwrap();
        std::fs::create_dir_all(&bad).unwrap();
        let archive = good.join(archive_name());
        // The layout of a release archive: the binary at the top level.
        let tar = Command::new("sh")
            .arg("-c")
            .arg(r#"tar -C "$1" -cf - mlops | gzip -1 > "$2""#)
            .arg("sh")
            .arg(&stage)
            .arg(&archive)
            .status()
            .expect("tar runs");
        assert!(tar.success(), "tar packs the binary");
        std::fs::remove_dir_all(&stage).unwrap();
        std::fs::copy(&archive, bad.join(archive_name())).unwrap();

        let sha256 = hex::encode(Sha256::digest(std::fs::read(&archive).unwrap()));
        let other = format!("{WRONG_SHA}  mlops-{VERSION}-some-other-target.tar.gz\n");
        std::fs::write(
            good.join("SHA256SUMS"),
            format!("{other}{sha256}  {}\n", archive_name()),
        )
        .unwrap();
        std::fs::write(
            bad.join("SHA256SUMS"),
            format!("{other}{WRONG_SHA}  {}\n", archive_name()),
        )
        .unwrap();

        let server = Server::start(tmp.path().to_path_buf());
        Release {
            _tmp: tmp,
            server,
            sha256,
        }
    }

    fn shared() -> Arc<Release> {
        static SHARED: Mutex<Weak<Release>> = Mutex::new(Weak::new());
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(release) = slot.upgrade() {
            return release;
        }
        let release = Arc::new(Release::build());
        *slot = Arc::downgrade(&release);
        release
    }

    fn url(&self, site: &str) -> String {
        format!("http://127.0.0.1:{}/{site}", self.server.port)
    }
}

/// A CI job's machine: its own HOME, install dir and work dir.
struct Job {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    bin: PathBuf,
    work: PathBuf,
}

impl Job {
    fn new() -> Job {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let home = tmp.path().join("home");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        Job {
            bin: tmp.path().join("bin"),
            _tmp: tmp,
            home,
            work,
        }
    }

    fn install_cmd(&self, url: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg(script())
            .args(args)
            .current_dir(&self.work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("LC_ALL", "C")
            .env("MLOPS_INSTALL_URL", url)
            .env("MLOPS_INSTALL_DIR", &self.bin);
        cmd
    }

    fn install(&self, url: &str, args: &[&str]) -> Out {
        capture(self.install_cmd(url, args))
    }

    fn installed_version(&self) -> Out {
        let mut cmd = Command::new(self.bin.join("mlops"));
        cmd.arg("--version");
        capture(cmd)
    }

    /// What the install dir holds (nothing, not even a temporary file, after a refusal).
    fn bin_entries(&self) -> Vec<String> {
        match std::fs::read_dir(&self.bin) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[test]
fn installs_a_verified_release_once() {
    let release = Release::shared();
    let job = Job::new();
    let github_path = job.home.join("github_path");

    let mut cmd = job.install_cmd(&release.url("good"), &[VERSION]);
    cmd.env("GITHUB_PATH", &github_path);
    let out = capture(cmd).ok();
    assert!(
        out.stdout.contains(&format!(
            "installed mlops {VERSION} to {}",
            job.bin.display()
        )),
        "{}",
        out.stdout
    );
    let version = job.installed_version().ok();
    assert_eq!(version.stdout.trim(), format!("mlops {VERSION}"));
    assert_eq!(job.bin_entries(), vec!["mlops".to_string()]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(job.bin.join("mlops"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap(),
        format!("{}\n", job.bin.display()),
        "the install dir is added to GITHUB_PATH"
    );

    // The second run (a CI cache hit) fetches nothing: a site that has
    // nothing at all would fail a download.
    let out = job.install(&release.url("nothing-here"), &[VERSION]).ok();
    assert!(out.stdout.contains("already installed"), "{}", out.stdout);
    job.installed_version().ok();
}

#[test]
fn a_wrong_hash_in_sha256sums_installs_nothing() {
    let release = Release::shared();
    let job = Job::new();
    let out = job.install(&release.url("badsums"), &[VERSION]).code(1);
    assert!(out.stderr.contains("SHA-256 mismatch"), "{}", out.stderr);
    assert!(out.stderr.contains(WRONG_SHA), "{}", out.stderr);
    assert!(out.stderr.contains(&release.sha256), "{}", out.stderr);
    assert!(job.bin_entries().is_empty(), "{:?}", job.bin_entries());
}

#[test]
fn a_pinned_hash_overrides_sha256sums() {
    let release = Release::shared();
    let job = Job::new();

    // A bank pins the archive's hash: a right SHA256SUMS does not overrule it.
    let mut cmd = job.install_cmd(&release.url("good"), &[VERSION]);
    cmd.env("MLOPS_SHA256", "ab".repeat(32));
    let out = capture(cmd).code(1);
    assert!(out.stderr.contains("SHA-256 mismatch"), "{}", out.stderr);
    assert!(job.bin_entries().is_empty(), "{:?}", job.bin_entries());

    // The right pin installs even from a site whose SHA256SUMS is wrong (it is
    // not read), and upper case is fine.
    let mut cmd = job.install_cmd(&release.url("badsums"), &[VERSION]);
    cmd.env("MLOPS_SHA256", release.sha256.to_uppercase());
    capture(cmd).ok();
    job.installed_version().ok();
}

#[test]
fn the_version_comes_from_mlops_toml() {
    let release = Release::shared();
    let job = Job::new();

    // No version anywhere: a one-line error, exit 2.
    let out = job.install(&release.url("good"), &[]).code(2);
    assert!(
        out.stderr.starts_with("error: no mlops version"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);

    // Only the keys under [ci] count; the site comes from there too.
    std::fs::write(
        job.work.join("mlops.toml"),
        format!(
            "[project]\nmlops_version = \"9.9.9\"\n\n[ci]  # CI settings\nmlops_version = \"{VERSION}\"   # pinned\ninstall_url = \"{}\"\n\n[report]\n",
            release.url("good")
        ),
    )
    .unwrap();
    let out = job.install(&release.url("good"), &["--print-version"]).ok();
    assert_eq!(out.stdout.trim(), VERSION);
    let mut cmd = job.install_cmd("", &[]);
    cmd.env_remove("MLOPS_INSTALL_URL");
    let out = capture(cmd).ok();
    assert!(
        out.stdout.contains(&format!("installed mlops {VERSION}")),
        "{}",
        out.stdout
    );
    let version = job.installed_version().ok();
    assert_eq!(version.stdout.trim(), format!("mlops {VERSION}"));

    // A version with no release: the download fails, nothing changes.
    let out = job.install(&release.url("good"), &["99.0.0"]).code(1);
    assert!(out.stderr.contains("cannot download"), "{}", out.stderr);
    assert_eq!(job.bin_entries(), vec!["mlops".to_string()]);
}
