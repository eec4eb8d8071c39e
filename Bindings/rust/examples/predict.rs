//! Prints the concepts a model sees in an image given by URL:
//!
//!     cargo run --example predict -- [--grpc | --grpc-insecure] [URL]
//!
//! The token comes from $CLARIFAI_PAT, the server from $CLARIFAI_API_BASE (REST) or
//! $CLARIFAI_GRPC_BASE (gRPC), else api.clarifai.com.
use std::process::ExitCode;

use clarifai::{Channel, Client, Error};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let option = args.next_if(|arg| arg.starts_with("--"));
    let url = args
        .next()
        .unwrap_or_else(|| "https://samples.clarifai.com/metro-north.jpg".to_string());
    let channel = match option.as_deref() {
        None => Channel::rest(None),
        Some("--grpc") => Channel::grpc(None),
        Some("--grpc-insecure") => Channel::grpc_insecure(None),
        Some(other) => {
            eprintln!("unknown option {other}");
            return ExitCode::from(2);
        }
    };
    match predict(channel, &url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            eprintln!(
                "HTTP status {:?}, gRPC status {:?}, transient {}, request id {:?}",
                error.http_status(),
                error.grpc_status(),
                error.is_transient(),
                error.request_id()
            );
            ExitCode::FAILURE
        }
    }
}

fn predict(channel: Result<Channel, Error>, url: &str) -> Result<(), Error> {
    // Clarifai's public models live in user "clarifai", app "main".
    let client = Client::new(&channel?, None, Some("clarifai"), Some("main"))?;
    let response = client.predict_url("general-image-recognition", url)?;
    for concept in response.concepts(0)? {
        println!("{:<20} {:.3}", concept.name(), concept.value());
    }
    Ok(())
}
