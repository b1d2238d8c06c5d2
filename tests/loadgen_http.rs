//! `gannet loadgen http` against the real API (`gannet::api::router` over a real store in a
//! temporary directory) and against small responders, all on 127.0.0.1:0.
//!
//! The other side is the referee: what the client says was accepted must be what the store
//! holds, what it says reached the carriers must be what the simulator counted. The API runs
//! on a runtime of its own (its own thread), so a test's dispatch hook may block: it delivers a
//! callback or submits to the simulator before the API answers, which makes every count
//! exact when the run ends without waiting on any clock. No test asserts an upper bound on time.
//!
//! Two ignored tests measure (docs/performance.md): the client's own ceiling against a trivial
//! responder, and the API alone; both run the server in a child process (this test binary,
//! re-run as `child_server`) so that its CPU and the client's are counted apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gannet::api::{self, ApiSettings, ApiState, ClientSettings, Dispatch, Rate};
use gannet::loadgen::http::callbacks::{SIGNATURE_HEADER, sign};
use gannet::loadgen::{HttpLoadArgs, HttpLoadReport, run_http};
use gannet::sim::{SimConfig, SimHandle};
use gannet::store::{Message, Store};
use gannet_smpp::{Address, Bind, Body, HEADER_LEN, Header, Pdu, SubmitSm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const KEY: &str = "loadgen-test-key";
const SECRET: &str = "whsec-test";

fn client(name: &str, key: &str) -> ClientSettings {
    // The limiter is not what these tests measure.
    let rate = Rate {
        per_second: 1e9,
        burst: 1_000_000,
    };
    ClientSettings::with_key(name, key, rate)
}

/// The API on its own thread and runtime, over a store in `dir`.
struct Api {
    addr: SocketAddr,
    store: Store,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_api(dispatch: Option<Arc<dyn Dispatch>>) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let mut api = serve_api(dir.path(), dispatch, 2);
    api._dir = Some(dir);
    api
}

fn serve_api(path: &Path, dispatch: Option<Arc<dyn Dispatch>>, workers: usize) -> Api {
    let store = Store::open(path).unwrap();
    let mut builder = ApiState::builder(
        store.clone(),
        ApiSettings::default(),
        vec![client("load", KEY)],
    );
    if let Some(d) = dispatch {
        builder = builder.dispatch(d);
    }
    let router = api::router(builder.build());
    let stop = CancellationToken::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let stopped = stop.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, router)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await
                .unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    Api {
        addr,
        store,
        stop,
        thread: Some(thread),
        _dir: None,
    }
}

fn args(addr: SocketAddr, extra: &[&str]) -> HttpLoadArgs {
    let url = format!("http://{addr}");
    let mut a = vec!["--url", url.as_str(), "--api-key", KEY];
    a.extend_from_slice(extra);
    HttpLoadArgs::try_parse_from(a).unwrap()
}

async fn run(addr: SocketAddr, extra: &[&str]) -> HttpLoadReport {
    run_http(args(addr, extra), CancellationToken::new())
        .await
        .unwrap()
}

fn statuses(r: &HttpLoadReport) -> Vec<(u16, u64)> {
    r.statuses.iter().map(|(s, n)| (*s, *n)).collect()
}

fn rejections(r: &HttpLoadReport) -> Vec<(&str, u64)> {
    r.rejections.iter().map(|(s, n)| (s.as_str(), *n)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_accepted_is_what_the_store_holds() {
    let api = start_api(None);
    let r = run(api.addr, &["--count", "300", "--connections", "8"]).await;
    assert_eq!(r.requests, 300);
    assert_eq!(r.answered, 300);
    assert_eq!(r.accepted, 300);
    assert_eq!(r.rejected, 0);
    assert_eq!(statuses(&r), [(202, 300)]);
    assert_eq!(r.failed, 0);
    assert_eq!(r.latency.count, 300);
    assert!(r.open_loop.is_none());
    assert_eq!(api.store.pending_count().unwrap(), 300);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    // The table prints and the JSON has the figures scripts read.
    assert!(r.to_string().contains("accepted"));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["accepted"], 300);
    assert_eq!(v["statuses"]["202"], 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_is_counted_by_status() {
    let api = start_api(None);
    let mut a = args(api.addr, &["--count", "20", "--connections", "2"]);
    a.api_key = "not-the-key".into();
    let r = run_http(a, CancellationToken::new()).await.unwrap();
    assert_eq!(r.accepted, 0);
    assert_eq!(r.rejected, 20);
    assert_eq!(statuses(&r), [(401, 20)]);
    assert_eq!(rejections(&r), [("401 invalid_api_key", 20)]);
    assert_eq!(api.store.pending_count().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_with_a_short_last_one() {
    let api = start_api(None);
    let r = run(
        api.addr,
        &["--count", "250", "--batch", "100", "--connections", "2"],
    )
    .await;
    assert_eq!(r.endpoint, "/v1/messages/batch");
    assert_eq!(r.requests, 3);
    assert_eq!(r.messages, 250);
    assert_eq!(r.accepted, 250);
    assert_eq!(statuses(&r), [(202, 3)]);
    assert_eq!(api.store.pending_count().unwrap(), 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_items_refused_are_counted_by_reason() {
    let api = start_api(None);
    let r = run(
        api.addr,
        &[
            "--count",
            "200",
            "--batch",
            "50",
            "--mix",
            "44",
            "--landline-share",
            "0.1",
        ],
    )
    .await;
    assert_eq!(r.accepted, 180);
    assert_eq!(r.rejected, 20);
    assert_eq!(rejections(&r), [("item invalid_field/fixed_line", 20)]);
    assert_eq!(api.store.pending_count().unwrap(), 180);
}

/// The default mix (India, Mexico, North America, the UK, Honduras) with 5% landlines: every
/// mobile number is accepted, every landline refused as one, and every prefix is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mix_yields_numbers_the_api_accepts() {
    let api = start_api(None);
    let r = run(
        api.addr,
        &[
            "--count",
            "400",
            "--connections",
            "4",
            "--landline-share",
            "0.05",
        ],
    )
    .await;
    assert_eq!(r.accepted, 380, "{:?}", r.rejections);
    assert_eq!(rejections(&r), [("400 invalid_field/fixed_line", 20)]);
    let mut by_country: BTreeMap<String, u64> = BTreeMap::new();
    for m in api.store.pending() {
        let m = m.unwrap();
        let cc = ["91", "52", "1", "44", "504"]
            .into_iter()
            .find(|cc| m.to[1..].starts_with(cc))
            .unwrap();
        *by_country.entry(cc.to_owned()).or_default() += 1;
    }
    assert_eq!(by_country.values().sum::<u64>(), 380);
    assert_eq!(by_country.len(), 5, "{by_country:?}");
    assert!(by_country["91"] > by_country["52"], "{by_country:?}");
}

/// A responder on 127.0.0.1:0 that answers every request `202 {}`, holding the first answer
/// back for `hold`; with `stop_after`, it cancels `token` once it has answered that many.
async fn responder(hold: Duration, stop_after: Option<(u64, CancellationToken)>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let answered = answered.clone();
            let stop_after = stop_after.clone();
            tokio::spawn(async move {
                serve_trivially(s, |n| {
                    let total = answered.fetch_add(n, Relaxed) + n;
                    if let Some((at, token)) = &stop_after
                        && total >= *at
                    {
                        token.cancel();
                    }
                    (total == n).then_some(hold)
                })
                .await;
            });
        }
    });
    addr
}

/// Answers each complete request in what was read with `202 {}`, in one write per read.
/// `on_answer(n)` is told how many are about to be answered and may ask to hold them back.
async fn serve_trivially(
    mut s: tokio::net::TcpStream,
    mut on_answer: impl FnMut(u64) -> Option<Duration>,
) {
    const ANSWER: &[u8] =
        b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
    s.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut done = 0;
        let mut requests = 0;
        while let Some(end) = request_end(&buf[done..]) {
            done += end;
            requests += 1;
        }
        buf.drain(..done);
        if requests == 0 {
            continue;
        }
        if let Some(hold) = on_answer(requests) {
            tokio::time::sleep(hold).await;
        }
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(ANSWER);
        }
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Octets of the first complete request in `buf` (head and Content-Length body).
fn request_end(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&buf[..head]).ok()?;
    let len: usize = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    (buf.len() >= head + len).then_some(head + len)
}

/// Open loop: 20 requests due one per millisecond on one connection, the first answer held
/// for 50 ms. The 19 after it cannot go before it is answered, so each is late and its
/// latency, counted from when it was due, includes that wait: at least 50 - 19 ms. A closed
/// loop would have reported them as fast as the server then answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_latency_runs_from_the_scheduled_time() {
    let addr = responder(Duration::from_millis(50), None).await;
    let r = run(
        addr,
        &["--count", "20", "--rate", "1000", "--connections", "1"],
    )
    .await;
    assert_eq!(r.accepted, 20);
    let o = r.open_loop.unwrap();
    assert_eq!(o.skipped, 0);
    assert!(o.late >= 19, "{o:?}");
    assert!(o.max_lag_us >= 30_000.0, "{o:?}");
    assert!(r.latency.min_us >= 30_000.0, "{:?}", r.latency);
    assert!(r.latency.max_us >= 50_000.0, "{:?}", r.latency);

    // Closed loop on the same responder: only the held request waited.
    let addr = responder(Duration::from_millis(50), None).await;
    let r = run(addr, &["--count", "20", "--connections", "1"]).await;
    assert!(r.latency.max_us >= 50_000.0);
    assert_eq!(r.latency.count, 20);
}

/// Ctrl-C (the shutdown token) stops a long run; requests in flight are answered and counted,
/// and the report still comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_stops_early_and_reports() {
    let token = CancellationToken::new();
    let addr = responder(Duration::ZERO, Some((100, token.clone()))).await;
    let r = run_http(
        args(addr, &["--duration", "10m", "--connections", "4"]),
        token,
    )
    .await
    .unwrap();
    assert!(r.interrupted);
    assert!(r.requests >= 100, "{}", r.requests);
    assert_eq!(r.answered, r.requests);
    assert_eq!(r.failed, 0);
    assert!(r.to_string().contains("interrupted"));
}

/// Posts a status callback for every accepted message before the API answers: a third
/// signed with the secret, a third with another, a third unsigned.
struct CallbackDispatch {
    n: AtomicU64,
}

impl Dispatch for CallbackDispatch {
    fn dispatch(&self, m: Message, _received: std::time::Instant) {
        let i = self.n.fetch_add(1, Relaxed);
        let url = m.callback_url.unwrap();
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let body = serde_json::json!({
            "id": m.id.to_string(), "status": "delivered", "client_ref": m.client_ref,
        })
        .to_string();
        let signature = match i % 3 {
            0 => Some(sign(SECRET.as_bytes(), 1_790_000_000, body.as_bytes())),
            1 => Some(sign(b"another", 1_790_000_000, body.as_bytes())),
            _ => None,
        };
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(s) = signature {
            req.push_str(&format!("{SIGNATURE_HEADER}: {s}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        let mut s = std::net::TcpStream::connect(host).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_counted_and_checked() {
    let api = start_api(Some(Arc::new(CallbackDispatch {
        n: AtomicU64::new(0),
    })));
    let r = run(
        api.addr,
        &[
            "--count",
            "30",
            "--connections",
            "3",
            "--callbacks",
            "--webhook-secret",
            SECRET,
        ],
    )
    .await;
    assert_eq!(r.accepted, 30);
    let cb = r.callbacks.unwrap();
    assert!(cb.url.starts_with("http://127.0.0.1:"), "{}", cb.url);
    assert_eq!(cb.received, 30);
    assert_eq!((cb.verified, cb.bad_signature, cb.unsigned), (10, 10, 10));
    assert_eq!(cb.by_status.get("delivered"), Some(&30));
    // Every body echoed the client_ref stamp, so every callback has a lag.
    assert_eq!(cb.lag.unwrap().count, 30);
    assert!(cb.per_s > 0.0);
}

/// Submits every accepted message to the simulator over SMPP before the API answers,
/// alternating between two personas.
struct SmppDispatch {
    binds: Vec<Mutex<(std::net::TcpStream, u32)>>,
    n: AtomicU64,
}

impl SmppDispatch {
    fn new(addrs: &[SocketAddr]) -> SmppDispatch {
        let binds = addrs
            .iter()
            .map(|a| {
                let mut s = std::net::TcpStream::connect(a).unwrap();
                let bind = Pdu::new(1, Body::BindTransmitter(Bind::new("loadgen", "loadgen")));
                s.write_all(&bind.to_bytes()).unwrap();
                let h = read_pdu(&mut s);
                assert!(h.command_status.is_ok(), "{h:?}");
                Mutex::new((s, 2))
            })
            .collect();
        SmppDispatch {
            binds,
            n: AtomicU64::new(0),
        }
    }
}

fn read_pdu(s: &mut std::net::TcpStream) -> Header {
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).unwrap();
    let h = Header::peek(&head).unwrap();
    let mut rest = vec![0u8; h.command_length as usize - HEADER_LEN];
    s.read_exact(&mut rest).unwrap();
    h
}

impl Dispatch for SmppDispatch {
    fn dispatch(&self, m: Message, _received: std::time::Instant) {
        let i = self.n.fetch_add(1, Relaxed) as usize;
        let mut bind = self.binds[i % self.binds.len()].lock().unwrap();
        let (s, seq) = &mut *bind;
        let sm = SubmitSm {
            source_addr: Address::alphanumeric(m.from.clone().into_bytes()),
            destination_addr: Address::international(m.to.as_bytes()[1..].to_vec()),
            short_message: m.text.clone().into_bytes().into(),
            ..SubmitSm::default()
        };
        s.write_all(&Pdu::new(*seq, Body::SubmitSm(sm)).to_bytes())
            .unwrap();
        *seq += 1;
        let h = read_pdu(s);
        assert!(h.command_status.is_ok(), "{h:?}");
    }
}

async fn sim_with_control() -> (SimHandle, SocketAddr) {
    let mut yaml = String::from("personas:\n");
    for name in ["mno-a", "mno-b"] {
        yaml.push_str(&format!(
            "  - name: {name}\n    listen: 127.0.0.1:0\n    \
             accounts: [{{ system_id: loadgen, password: loadgen }}]\n"
        ));
    }
    let config = SimConfig::parse(Path::new("loadgen-http-test.yaml"), &yaml).unwrap();
    let sim = gannet::sim::Sim::start(config).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = listener.local_addr().unwrap();
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (sim, control)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carriers_are_counted_at_the_simulator() {
    let (sim, control) = sim_with_control().await;
    let dispatch = SmppDispatch::new(&[sim.persona_addr("mno-a"), sim.persona_addr("mno-b")]);
    let api = start_api(Some(Arc::new(dispatch)));
    let control = format!("http://{control}");
    let pid = std::process::id().to_string();
    let r = run(
        api.addr,
        &[
            "--count",
            "120",
            "--connections",
            "4",
            "--sim-control",
            &control,
            "--gateway-pid",
            &pid,
        ],
    )
    .await;
    assert_eq!(r.accepted, 120);
    let c = r.carriers.clone().unwrap();
    assert_eq!(c.personas, ["mno-a", "mno-b"]);
    assert_eq!(c.submit_sm, 120);
    assert_eq!(c.messages, 120);
    assert_eq!(c.backlog_at_end_of_load, 0);
    assert_eq!(c.backlog, 0);
    assert!(c.messages_per_s > 0.0);
    assert_eq!(sim.stats("mno-a").unwrap().messages, 60);
    assert_eq!(sim.stats("mno-b").unwrap().messages, 60);
    // The "gateway" here is this process: its figures are read and reported.
    let g = r.gateway.unwrap();
    assert_eq!(g.pid, std::process::id());
    assert!(g.peak_rss_kib >= g.rss_kib && g.rss_kib > 0, "{g:?}");
    assert!(r.to_string().contains("carriers"));
}

/// The delivery side lags behind the answers (a thread submits after the API has answered):
/// with --drain-wait the run waits until the carriers have every accepted message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_the_carriers() {
    let (sim, control) = sim_with_control().await;
    let smpp = SmppDispatch::new(&[sim.persona_addr("mno-a")]);
    let (dispatch, mut rx) = api::ChannelDispatch::new();
    let submitter = std::thread::spawn(move || {
        while let Some((m, received)) = rx.blocking_recv() {
            smpp.dispatch(m, received);
        }
    });
    let api = start_api(Some(Arc::new(dispatch)));
    let control = format!("http://{control}");
    let r = run(
        api.addr,
        &[
            "--count",
            "200",
            "--sim-control",
            &control,
            "--drain-wait",
            "60s",
        ],
    )
    .await;
    assert_eq!(r.accepted, 200);
    let d = r.drain.unwrap();
    assert!(d.settled, "{d:?}");
    let c = r.carriers.clone().unwrap();
    assert_eq!(c.messages, 200);
    assert_eq!(c.backlog, 0);
    assert!(c.backlog_at_end_of_load >= 0);
    drop(api);
    submitter.join().unwrap();
}

#[tokio::test]
async fn refuses_remote_targets_and_unbounded_runs() {
    let a = HttpLoadArgs::try_parse_from([
        "--url",
        "http://192.0.2.1:8080",
        "--api-key",
        "k",
        "--count",
        "1",
    ])
    .unwrap();
    let err = run_http(a, CancellationToken::new()).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("not a loopback address"),
        "{err:#}"
    );
    let a = HttpLoadArgs::try_parse_from(["--api-key", "k"]).unwrap();
    let err = run_http(a, CancellationToken::new()).await.unwrap_err();
    assert!(format!("{err:#}").contains("unbounded"), "{err:#}");
}

// Measurements (ignored; docs/performance.md).

/// The server half of the measurements, run as a child process: `LOADGEN_HTTP_CHILD=responder`
/// (the trivial responder) or `api` (the real API over a store in `LOADGEN_HTTP_STORE`, or a
/// temporary directory). Prints `addr <addr>`, then serves until its stdin closes.
#[test]
fn child_server() {
    let Ok(kind) = std::env::var("LOADGEN_HTTP_CHILD") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let stdin_closed = CancellationToken::new();
    let closed = stdin_closed.clone();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        closed.cancel();
    });
    rt.block_on(async move {
        // Held until stdin closes: the API (and its store's directory) or nothing.
        let mut held: Option<(Api, tempfile::TempDir)> = None;
        let addr = match kind.as_str() {
            "api" => {
                let dir = tempfile::tempdir().unwrap();
                let path = std::env::var("LOADGEN_HTTP_STORE")
                    .map_or_else(|_| dir.path().to_path_buf(), Into::into);
                let api = serve_api(&path, None, 2);
                let addr = api.addr;
                held = Some((api, dir));
                addr
            }
            _ => responder(Duration::ZERO, None).await,
        };
        println!("addr {addr}");
        std::io::stdout().flush().unwrap();
        stdin_closed.cancelled().await;
        drop(held);
    });
}

/// Starts `child_server` as a child process; returns it, its address and the rest of its
/// output (to be read to the end, so that it does not write into a closed pipe).
fn spawn_child(
    kind: &str,
) -> (
    std::process::Child,
    SocketAddr,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env("LOADGEN_HTTP_CHILD", kind)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let addr = loop {
        let line = lines.next().expect("child ended early").unwrap();
        // The harness prints `test child_server ... ` on the same line, without a newline.
        if let Some(at) = line.find("addr ") {
            break line[at + 5..].trim().parse().unwrap();
        }
    };
    (child, addr, lines)
}

/// Runs the load described by `LOADGEN_ARGS` (default `default`) against a child server and
/// prints the report.
async fn measure(kind: &str, default: &str) {
    let (mut child, addr, rest) = spawn_child(kind);
    let extra = std::env::var("LOADGEN_ARGS").unwrap_or_else(|_| default.to_owned());
    let pid = child.id().to_string();
    let mut a: Vec<&str> = extra.split_whitespace().collect();
    a.extend(["--gateway-pid", &pid]);
    let r = run(addr, &a).await;
    print!("{r}");
    println!(
        "client: {:.0} requests/s, {:.2} µs CPU per request; server: {:.2} µs CPU per request",
        r.requests_per_s,
        r.client.cpu_s * 1e6 / r.answered.max(1) as f64,
        r.gateway
            .map_or(0.0, |g| g.cpu_s * 1e6 / r.answered.max(1) as f64),
    );
    drop(child.stdin.take());
    rest.for_each(drop);
    let _ = child.wait();
}

/// The client's own ceiling: closed loop against the trivial responder in a child process.
/// `cargo test --release --test loadgen_http -- --ignored --nocapture ceiling`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement"]
async fn ceiling_against_a_trivial_responder() {
    measure("responder", "--duration 5s --connections 64 --mix 44").await;
}

/// The API alone (accept only: no dispatch, no delivery) over a fresh store, in a child
/// process. `cargo test --release --test loadgen_http -- --ignored --nocapture api_alone`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement"]
async fn api_alone() {
    measure("api", "--duration 10s --connections 64").await;
}
