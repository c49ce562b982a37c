//! `cohort serve`: the real server on loopback, spoken to over real sockets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::Scratch;

struct Server {
    child: Child,
    port: u16,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(s: &Scratch) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args([
            "--workspace",
            s.path("ws.cohort").to_str().unwrap(),
            "serve",
            "--port",
            "0",
        ])
        .env("COHORT_DATA_DIR", s.path("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "Cohort is running at http://127.0.0.1:PORT/?token=TOKEN"
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected banner: {line}"));
    let (port, token) = rest.split_once("/?token=").unwrap();
    Server {
        child,
        port: port.parse().unwrap(),
        token: token.to_string(),
    }
}

/// One HTTP/1.1 request; returns the status and the raw body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn requests_without_the_right_token_origin_or_json_are_refused_and_change_nothing() {
    let s = Scratch::new();
    let server = start(&s);
    let port = server.port;
    let auth = format!("Bearer {}", server.token);
    let csv = s.write("people.csv", "email,first name\nann@example.com,Ann\n");
    let import = serde_json::json!({ "path": csv }).to_string();

    let (status, body) = http(port, "POST", "/api/jobs/import", &[], import.as_bytes());
    assert_eq!(status, 401, "{body}");
    assert_eq!(json(&body)["code"], "no_token");
    let (status, _) = http(
        port,
        "POST",
        "/api/jobs/import",
        &[("Authorization", "Bearer nope")],
        import.as_bytes(),
    );
    assert_eq!(status, 401);
    let (status, body) = http(
        port,
        "POST",
        "/api/jobs/import",
        &[("Authorization", &auth), ("Origin", "http://evil.example")],
        import.as_bytes(),
    );
    assert_eq!(status, 403, "{body}");
    let (status, _) = http(
        port,
        "POST",
        "/api/call/workspace_stats",
        &[("Authorization", &auth), ("Origin", "http://127.0.0.1:1")],
        b"{}",
    );
    assert_eq!(status, 403, "another port is another origin");
    let (status, body) = http(
        port,
        "POST",
        "/api/jobs/import",
        &[("Authorization", &auth)],
        b"{\"path\": ",
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["code"], "invalid_json");
    let (status, _) = http(port, "GET", &format!("/?token={}", server.token), &[], b"");
    assert_ne!(status, 401);
    // Browsers send one host's cookies to every port: another server's
    // cookie must neither let a request in nor keep this page's token out.
    let (status, _) = http(
        port,
        "POST",
        "/api/call/workspace_stats",
        &[("Cookie", &format!("cohort_token_1={}", server.token))],
        b"{}",
    );
    assert_eq!(status, 401, "another port's cookie is not ours");
    let (status, _) = http(
        port,
        "POST",
        "/api/call/workspace_stats",
        &[("Cookie", &format!("cohort_token_{port}={}", server.token))],
        b"{}",
    );
    assert_eq!(status, 200, "our cookie");
    let (status, _) = http(
        port,
        "GET",
        &format!("/?token={}", server.token),
        &[(
            "Cookie",
            &format!("cohort_token_{port}=stale; cohort_token=stale"),
        )],
        b"",
    );
    assert_ne!(status, 401, "the address's token wins over a stale cookie");

    // Nothing above reached the engine.
    let (status, body) = http(
        port,
        "POST",
        "/api/call/workspace_stats",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["imports"], 0);
    assert_eq!(json(&body)["contacts"], 0);
}

#[test]
fn upload_import_job_with_progress_events_and_history() {
    let s = Scratch::new();
    let server = start(&s);
    let port = server.port;
    let auth = format!("Bearer {}", server.token);
    let csv = "email,first name\nann@example.com,Ann\nbob@example.com,Bob\n,Nobody\n";
    let (status, body) = http(
        port,
        "POST",
        "/api/upload?name=people.csv",
        &[("Authorization", &auth)],
        csv.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let path = json(&body)["path"].as_str().unwrap().to_string();
    assert!(path.ends_with("people.csv"));

    let (status, body) = http(
        port,
        "POST",
        "/api/call/preview",
        &[("Authorization", &auth)],
        serde_json::json!({ "path": path, "rows": 5 })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["plan"]["preset"], "generic_contacts");

    let (status, body) = http(
        port,
        "POST",
        "/api/jobs/import",
        &[("Authorization", &auth)],
        serde_json::json!({ "path": path }).to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let job = json(&body)["job_id"].as_str().unwrap().to_string();
    // EventSource cannot send headers: the events URL takes the token as a query parameter.
    let (status, events) = http(
        port,
        "GET",
        &format!("/api/jobs/{job}/events?token={}", server.token),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    let done = events
        .lines()
        .find(|l| l.contains("\"type\":\"done\""))
        .unwrap_or_else(|| panic!("no done event in {events}"));
    let report = json(done.trim_start_matches("data:").trim());
    assert_eq!(report["result"]["rows_rejected"], 1);
    assert_eq!(report["result"]["tables"][0]["inserted"], 2);

    let (_, body) = http(
        port,
        "POST",
        "/api/call/imports",
        &[("Authorization", &auth)],
        b"{}",
    );
    assert_eq!(json(&body).as_array().unwrap().len(), 1);
    let (status, body) = http(
        port,
        "POST",
        "/api/call/launch",
        &[("Authorization", &auth)],
        b"{}",
    );
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (400, Some("unknown_command"))
    );
    let (status, body) = http(
        port,
        "POST",
        "/api/call/preview",
        &[("Authorization", &auth)],
        serde_json::json!({ "path": s.write("empty.csv", "") })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (422, Some("empty_file"))
    );
}
