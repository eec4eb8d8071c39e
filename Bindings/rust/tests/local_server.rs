//! Against the local test server (Tests/Server), which run_with_server.py starts and names in
//! CLARIFAI_API_BASE, CLARIFAI_GRPC_BASE and CLARIFAI_PAT. Every test runs on REST and on
//! cleartext gRPC.
use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime};

use clarifai::{Channel, Client, Error, ErrorCode, Input, InputKind, Response};

const IMAGE_URL: &str = "https://samples.clarifai.com/metro-north.jpg";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Rest,
    Grpc,
}

fn channel(kind: Kind, endpoint: Option<&str>) -> Channel {
    assert!(
        std::env::var_os("CLARIFAI_API_BASE").is_some() && std::env::var_os("CLARIFAI_GRPC_BASE").is_some(),
        "run under the local test server: .venv/bin/python Tests/Server/run_with_server.py -- cargo test"
    );
    match kind {
        Kind::Rest => Channel::rest(endpoint),
        Kind::Grpc => Channel::grpc_insecure(endpoint),
    }
    .unwrap()
}

/// Runs `test` with a client of user "test-user", app "main" on each of the server's channels.
fn each_channel(test: impl Fn(Kind, &Client)) {
    for kind in [Kind::Rest, Kind::Grpc] {
        let client =
            Client::new(&channel(kind, None), None, Some("test-user"), Some("main")).unwrap();
        test(kind, &client);
    }
}

fn api_error(result: Result<Response, Error>, code: ErrorCode) -> Error {
    let error = result.expect_err("the call should fail");
    assert_eq!(error.code(), code, "{error}");
    error
}

#[test]
fn predict_url() {
    each_channel(|kind, client| {
        let response = client
            .predict_url("general-image-recognition", IMAGE_URL)
            .unwrap();
        assert_eq!(
            (response.status_code(), response.output_count()),
            (10000, 1),
            "{kind:?}"
        );
        assert!(!response.request_id().is_empty());
        let concepts = response.concepts(0).unwrap();
        assert_eq!(concepts.len(), 20, "{kind:?}");
        for (i, concept) in concepts.iter().enumerate() {
            assert!(
                concept.id().starts_with("ai_") && !concept.name().is_empty(),
                "{concept:?}"
            );
            assert!(
                concept.value() > 0.0 && concept.value() <= 1.0,
                "{concept:?}"
            );
            assert!(
                i == 0 || concept.value() <= concepts[i - 1].value(),
                "{concept:?}"
            );
        }
        assert_eq!(
            response.string("outputs[0].data.concepts[0].name").unwrap(),
            concepts[0].name()
        );
        assert_eq!(
            response
                .double("outputs[0].data.concepts[0].value")
                .unwrap() as f32,
            concepts[0].value()
        );
        assert_eq!(response.int64("outputs[0].status.code").unwrap(), 10000);
        assert!(response.json().unwrap().contains(concepts[19].id()));
        assert!(response.concepts(1).is_err());
    });
}

#[test]
fn predict_kinds() {
    each_channel(|kind, client| {
        let detection = client
            .predict(
                "general-image-detection",
                &[Input::url(InputKind::Image, IMAGE_URL)],
            )
            .unwrap();
        let regions = detection.regions(0).unwrap();
        assert!((1..=3).contains(&regions.len()), "{kind:?} {regions:?}");
        for region in regions {
            assert_eq!(region.concepts().len(), 3, "{region:?}");
            assert!(
                0.0 <= region.top_row()
                    && region.top_row() < region.bottom_row()
                    && region.bottom_row() <= 1.0
            );
            assert!(
                0.0 <= region.left_col()
                    && region.left_col() < region.right_col()
                    && region.right_col() <= 1.0
            );
        }

        let inputs = [
            Input::url(InputKind::Image, IMAGE_URL),
            Input::bytes(InputKind::Image, b"\x89PNG not really").with_id("bytes-input"),
        ];
        let embeddings = client.predict("general-image-embedding", &inputs).unwrap();
        assert_eq!(
            embeddings.string("outputs[1].input.id").unwrap(),
            "bytes-input"
        );
        for output in 0..2 {
            let vector = embeddings.embedding(output).unwrap();
            let norm: f32 = vector.iter().map(|x| x * x).sum();
            assert!(
                vector.len() == 16 && (norm - 1.0).abs() < 1e-4,
                "{kind:?} {vector:?}"
            );
        }

        let echo = client
            .predict("text-echo", &[Input::text("hello")])
            .unwrap();
        assert_eq!(echo.text(0), Some("echo: hello"));
        assert_eq!(echo.text(1), None);
    });
}

/// A prediction whose inputs partly fail: the error carries the outputs that succeeded.
#[test]
fn predict_mixed_status() {
    each_channel(|_, client| {
        let inputs = [Input::text("fine"), Input::url(InputKind::Image, IMAGE_URL)];
        let error = api_error(client.predict("text-echo", &inputs), ErrorCode::Api);
        assert_eq!(error.status_code(), Some(10010));
        let response = error.response().unwrap();
        assert_eq!(response.text(0), Some("echo: fine"));
        assert_eq!(response.int64("outputs[1].status.code").unwrap(), 30104);
    });
}

#[test]
fn call_concepts() {
    each_channel(|kind, client| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let id = format!("rust-{kind:?}-{nanos}");
        client
            .call(
                "PostConcepts",
                &format!(r#"{{"concepts": [{{"id": "{id}", "name": "Rust concept"}}]}}"#),
            )
            .unwrap();
        let response = client.call("ListConcepts", r#"{"per_page": 500}"#).unwrap();
        assert_eq!(response.status_code(), 10000);
        let count = response.count("concepts").unwrap();
        assert!(
            (0..count).any(|i| response.string(&format!("concepts[{i}].id")).unwrap() == id),
            "{kind:?}: {id} not listed"
        );
    });
}

#[test]
fn bad_token() {
    for kind in [Kind::Rest, Kind::Grpc] {
        let client = Client::new(
            &channel(kind, None),
            Some("not-a-token"),
            Some("test-user"),
            Some("main"),
        )
        .unwrap();
        let error = api_error(
            client.predict_url("general-image-recognition", IMAGE_URL),
            ErrorCode::Api,
        );
        assert_eq!(error.status_code(), Some(11008), "{error}");
        assert!(!error.request_id().unwrap().is_empty());
        let statuses = match kind {
            Kind::Rest => (Some(401), None),
            Kind::Grpc => (Some(200), Some(0)), // gRPC ends OK with the Clarifai status in the message
        };
        assert_eq!(
            (error.http_status(), error.grpc_status()),
            statuses,
            "{kind:?}"
        );
        assert!(!error.is_transient());
        assert!(!error.to_string().contains("not-a-token"), "{error}");
    }
}

#[test]
fn invalid_arguments() {
    each_channel(|kind, client| {
        let error = api_error(client.call("NoSuchMethod", ""), ErrorCode::InvalidArgument);
        assert!(error.message().contains("NoSuchMethod"), "{error}");
        assert_eq!(
            (
                error.http_status(),
                error.grpc_status(),
                error.is_transient()
            ),
            (None, None, false)
        );
        assert!(error.response().is_none());

        let error = api_error(
            client.call("ListConcepts", r#"{"no_such_field": 1}"#),
            ErrorCode::InvalidArgument,
        );
        assert!(error.message().contains("no_such_field"), "{error}");
        api_error(
            client.predict_url("general\0image-recognition", IMAGE_URL),
            ErrorCode::InvalidArgument,
        );
        for inputs in [&[][..], &[Input::bytes(InputKind::Image, b"")]] {
            api_error(
                client.predict("general-image-recognition", inputs),
                ErrorCode::InvalidArgument,
            );
        }

        let error = match kind {
            Kind::Rest => Channel::rest(Some("ftp://127.0.0.1")),
            Kind::Grpc => Channel::grpc_insecure(Some("http://127.0.0.1:1")), // a target, not a URL
        }
        .err()
        .unwrap();
        assert_eq!(error.code(), ErrorCode::InvalidArgument, "{error}");
    });
}

/// A listener that never answers: the kernel accepts the connection and takes the request,
/// nobody reads it.
#[test]
fn timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    for (kind, endpoint) in [
        (Kind::Rest, format!("http://{address}")),
        (Kind::Grpc, address.clone()),
    ] {
        let client = Client::new(
            &channel(kind, Some(&endpoint)),
            None,
            Some("test-user"),
            Some("main"),
        )
        .unwrap();
        let start = Instant::now();
        let error = api_error(
            client
                .with_timeout(Duration::from_millis(300))
                .unwrap()
                .call("ListConcepts", ""),
            ErrorCode::Timeout,
        );
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(2),
            "{kind:?}: {error} after {elapsed:?}"
        );
        assert_eq!(error.http_status(), None);
    }
}

#[test]
fn threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Channel>();
    shared::<Client>();
    shared::<Response>();
    shared::<Error>();

    each_channel(|kind, client| {
        let responses: Vec<Response> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|i| {
                    scope.spawn(move || {
                        client
                            .predict_url("general-image-recognition", &format!("{IMAGE_URL}?{i}"))
                            .unwrap()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().unwrap())
                .collect()
        });
        for response in &responses {
            assert_eq!(response.concepts(0).unwrap().len(), 20, "{kind:?}");
        }
    });
}
