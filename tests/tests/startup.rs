//! The real `confab-relay` binary at start: what it refuses to start with (and that the refusal
//! shows no secret), where the demo keeps its data, and who may read what the relay writes to disk.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use confab_tests::process::relay_binary;
use confab_tests::*;
use shared::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// A real 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

/// How long the relay may take to start, or to give up.
const START_WAIT: Duration = Duration::from_secs(30);

async fn binary() -> PathBuf {
    tokio::task::spawn_blocking(relay_binary).await.expect("build the relay")
}

/// The relay run with a known umask (022, the usual default), so that files it leaves to the umask
/// would be readable by others, and with no configuration from the environment.
fn relay(bin: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg("umask 022 && exec \"$0\" \"$@\"").arg(bin).args(args);
    for var in ["CONFAB_DATA_DIR", "CONFAB_SMTP_URL", "CONFAB_PUBLIC_URL", "CONFAB_PASSWORD", "CONFAB_LISTEN"] {
        command.env_remove(var);
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    command
}

/// What a relay that stopped by itself said.
struct Exited {
    success: bool,
    stderr: String,
}

/// Run to its end (a CLI command, or a start that is refused).
async fn run(mut command: Command) -> Exited {
    let output = tokio::time::timeout(START_WAIT, command.output()).await.expect("the relay ends in time").expect("run the relay");
    Exited { success: output.status.success(), stderr: String::from_utf8_lossy(&output.stderr).into_owned() }
}

/// Start a relay that keeps running: resolves once it printed a line starting with `ready`, with
/// that line (panics with its stderr if it stopped instead).
async fn start(mut command: Command, ready: &str) -> (Child, String) {
    let mut child = command.spawn().expect("spawn the relay");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let started = tokio::time::timeout(START_WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with(ready) {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("the relay starts in time");
    let Some(line) = started else {
        let mut stderr = String::new();
        child.stderr.take().expect("piped stderr").read_to_string(&mut stderr).await.ok();
        panic!("the relay stopped instead of starting:\n{stderr}");
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, line)
}

fn demo_site() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").join("demo-site")
}

const DEMO_PORTS: [&str; 6] = ["--listen", "127.0.0.1:0", "--demo-listen", "127.0.0.1:0", "--phone-listen", "127.0.0.1:0"];

fn demo(bin: &Path, extra: &[&str]) -> Command {
    let site = demo_site();
    let mut args: Vec<&str> = vec!["demo"];
    args.extend(DEMO_PORTS);
    args.extend(["--demo-site-dir", site.to_str().unwrap(), "--demo-bot", "false"]);
    args.extend(extra);
    relay(bin, &args)
}

/// The permission bits, in octal as `ls -l` and `chmod` speak them ("700").
#[cfg(unix)]
fn mode(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode();
    format!("{:o}", mode & 0o777)
}

#[tokio::test]
async fn an_invalid_smtp_url_is_refused_without_showing_its_password() {
    let bin = binary().await;
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    // Not a URL (a bad port), and a URL that is not SMTP's.
    for url in ["smtps://ana:s3cret-pass@mail.example:notaport", "ftp://ana:s3cret-pass@mail.example"] {
        let exited = run(relay(&bin, &["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap(), "--smtp-url", url])).await;
        assert!(!exited.success, "{url} was accepted");
        assert!(exited.stderr.contains("--smtp-url"), "the error names the flag: {}", exited.stderr);
        assert!(!exited.stderr.contains("s3cret-pass"), "the password was shown: {}", exited.stderr);
        assert!(exited.stderr.contains("ana:***@mail.example"), "the rest is shown to fix it by: {}", exited.stderr);
    }
}

#[tokio::test]
async fn the_demo_keeps_its_data_in_its_own_directory_by_default() {
    let bin = binary().await;
    let cwd = tempfile::tempdir().unwrap();
    let mut command = demo(&bin, &[]);
    command.current_dir(cwd.path());
    let (mut child, _) = start(command, "dashboard on").await;
    child.kill().await.unwrap();
    assert!(cwd.path().join("confab-demo-data/confab.sqlite3").is_file(), "the demo's data is in ./confab-demo-data");
    assert!(!cwd.path().join("confab-data").exists(), "not in the directory `serve` uses");
}

#[tokio::test]
async fn the_demo_refuses_to_seed_a_directory_that_holds_a_real_relays_accounts() {
    let bin = binary().await;
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("shop-data");
    let dir = data.to_str().unwrap();
    let mut create = relay(&bin, &["advisor", "create", "--email", "ops@shop.test", "--name", "Ops", "--data-dir", dir]);
    create.env("CONFAB_PASSWORD", "the shop's own password");
    assert!(run(create).await.success);

    let exited = run(demo(&bin, &["--data-dir", dir])).await;
    assert!(!exited.success, "the demo started on a real relay's data: {}", exited.stderr);
    assert!(exited.stderr.contains(dir), "the error names the directory: {}", exited.stderr);
    assert!(exited.stderr.contains("--data-dir"), "and says what to do: {}", exited.stderr);
    let demo_accounts = sql_i64(&data, "SELECT COUNT(*) FROM advisors WHERE email = 'demo@confab.test'").await;
    assert_eq!(demo_accounts, Some(0), "no demo admin was added");
    assert_eq!(sql_i64(&data, "SELECT COUNT(*) FROM sites").await, Some(0), "nor the demo site");
}

#[tokio::test]
async fn the_demo_starts_again_on_its_own_directory_even_with_accounts_added_in_it() {
    let bin = binary().await;
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("demo-data");
    let dir = data.to_str().unwrap();
    start(demo(&bin, &["--data-dir", dir]), "dashboard on").await.0.kill().await.unwrap();
    // Someone trying the demo's admin pages adds an advisor.
    let mut create = relay(&bin, &["advisor", "create", "--email", "tester@example.test", "--name", "Tester", "--data-dir", dir]);
    create.env("CONFAB_PASSWORD", "a tester's password");
    assert!(run(create).await.success);
    start(demo(&bin, &["--data-dir", dir]), "dashboard on").await.0.kill().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_database_keys_and_files_are_readable_by_the_relays_user_only() {
    let bin = binary().await;
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let dir = data.to_str().unwrap();
    assert!(run(relay(&bin, &["site", "create", "--key", SITE, "--name", "Shop", "--origin", SHOP_ORIGIN, "--data-dir", dir])).await.success);
    let (mut child, line) = start(relay(&bin, &["serve", "--listen", "127.0.0.1:0", "--data-dir", dir]), "relay listening on").await;
    // Once a visitor is served, everything the relay makes at start is there.
    let addr = line.trim_start_matches("relay listening on http://").trim();
    let token = visitor_token(addr).await;
    assert_eq!(mode(&data), "700", "the data directory");
    for file in ["confab.sqlite3", "confab.sqlite3-wal", "confab.sqlite3-shm", "link-signing.key"] {
        assert_eq!(mode(&data.join(file)), "600", "{file}");
    }

    // A visitor's file, as the widget uploads it.
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/uploads?site={SITE}&name=receipt.png"))
        .header("origin", SHOP_ORIGIN)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "image/png")
        .body(PNG)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "upload accepted");
    let attachment: Attachment = response.json().await.unwrap();
    let file = data.join("attachments").join(&attachment.id[..2]).join(&attachment.id);
    assert_eq!(mode(&file), "600", "the attachment file");
    for dir in [data.join("attachments"), data.join("attachments/tmp"), file.parent().unwrap().to_owned()] {
        assert_eq!(mode(&dir), "700", "{}", dir.display());
    }
    child.kill().await.unwrap();
}

/// A visitor of the shop who has written once; their token.
async fn visitor_token(addr: &str) -> String {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws/visitor?site={SITE}").into_client_request().unwrap();
    request.headers_mut().insert("origin", SHOP_ORIGIN.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("visitor socket");
    let mut visitor = VisitorClient::from_ws(ws);
    let welcome = visitor.hello(None, 0).await.expect("welcome");
    visitor.say("first", "hello").await.expect("sent");
    let _ = visitor.ws.close(None).await;
    welcome.token
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_data_directory_that_others_can_read_is_tightened_and_that_is_logged() {
    use std::os::unix::fs::PermissionsExt;
    let bin = binary().await;
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    // As an older relay left them.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("confab.sqlite3"), b"").unwrap();
    std::fs::set_permissions(data.join("confab.sqlite3"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let exited = run(relay(&bin, &["site", "create", "--key", SITE, "--name", "Shop", "--origin", SHOP_ORIGIN, "--data-dir", data.to_str().unwrap()])).await;
    assert!(exited.success, "{}", exited.stderr);
    assert_eq!(mode(&data), "700");
    assert_eq!(mode(&data.join("confab.sqlite3")), "600");
    let tightened: Vec<&str> = exited.stderr.lines().filter(|l| l.contains("INFO") && l.contains("only the relay's user")).collect();
    assert_eq!(tightened.len(), 2, "both changes are logged: {}", exited.stderr);
    assert!(tightened[0].contains(data.to_str().unwrap()), "{}", tightened[0]);
}
