//! Dropping frees the library's handles, seen from the process's sockets. A test binary of its
//! own, so that no other test opens sockets meanwhile; against the local test server, like
//! local_server.rs.
use std::time::Duration;

use clarifai::{Channel, Client};

/// Sockets of the process: a REST channel keeps its connection (and libcurl's own socket pair)
/// open until it is freed.
fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// Dropping frees: the client keeps its channel (and its connections) alive, the response
/// outlives both. REST only: cleartext gRPC opens a connection per call with Debian 12's libcurl.
#[test]
fn drop_frees() {
    let sockets = open_sockets();
    let channel = Channel::rest(None).expect("run under Tests/Server/run_with_server.py");
    let client = Client::new(&channel, None, Some("test-user"), Some("main")).unwrap();
    drop(channel);
    let response = client
        .predict_url(
            "general-image-recognition",
            "https://samples.clarifai.com/metro-north.jpg",
        )
        .unwrap();
    assert!(open_sockets() > sockets, "no keep-alive connection");
    let timed = client.with_timeout(Duration::from_secs(10)).unwrap();
    drop(client);
    timed.call("ListConcepts", "").unwrap();
    assert!(open_sockets() > sockets, "the copy's channel closed");
    drop(timed);
    assert_eq!(open_sockets(), sockets, "the channel outlived its clients");
    assert_eq!(response.concepts(0).unwrap().len(), 20);
}
