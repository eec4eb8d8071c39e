//! The Clarifai API (service `clarifai.api.V2`) through libclarifai, the Clarifai C library,
//! over REST or gRPC.
//!
//! ```no_run
//! use clarifai::{Channel, Client};
//!
//! # fn main() -> Result<(), clarifai::Error> {
//! // REST to $CLARIFAI_API_BASE (default https://api.clarifai.com), token from $CLARIFAI_PAT;
//! // Clarifai's public models live in user "clarifai", app "main".
//! let client = Client::new(&Channel::rest(None)?, None, Some("clarifai"), Some("main"))?;
//! let response = client.predict_url("general-image-recognition", "https://samples.clarifai.com/metro-north.jpg")?;
//! for concept in response.concepts(0)? {
//!     println!("{} {:.3}", concept.name(), concept.value());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Concepts, regions and strings borrow from their [`Response`], which frees the library's
//! memory when dropped; the borrow checker keeps them from outliving it:
//!
//! ```compile_fail
//! # fn f(client: &clarifai::Client) -> Result<(), clarifai::Error> {
//! let concepts = {
//!     let response = client.predict_url("general-image-recognition", "https://samples.clarifai.com/metro-north.jpg")?;
//!     response.concepts(0)?
//! }; // error[E0597]: `response` does not live long enough
//! # Ok(())
//! # }
//! ```
//!
//! [`Channel`] and [`Client`] may be shared between threads; calls block the calling thread.

mod error;
mod ffi;
mod response;

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_long};
use std::ptr::{self, NonNull};
use std::time::Duration;

pub use error::{Error, ErrorCode};
pub use response::{Concept, Region, Response};

/// Where and how requests travel: a connection pool that clients share. Dropping it is safe
/// while clients made on it live; they keep it open.
pub struct Channel {
    raw: NonNull<ffi::clarifai_channel>,
}

// The library's channels are thread-safe.
unsafe impl Send for Channel {}
unsafe impl Sync for Channel {}

impl Channel {
    /// REST: JSON over HTTPS (or `http://` for a local server). `base_url` is
    /// `"http[s]://host[:port]"`; `None` means `$CLARIFAI_API_BASE`, else
    /// `https://api.clarifai.com`.
    pub fn rest(base_url: Option<&str>) -> Result<Channel, Error> {
        let base_url = c_optional("base_url", base_url)?;
        Channel::from_raw(unsafe { ffi::clarifai_channel_new_json(as_ptr(&base_url)) })
    }

    /// gRPC over TLS. `target` is `"host[:port]"` (port 443 when absent); `None` means
    /// `$CLARIFAI_GRPC_BASE`, else `api.clarifai.com`.
    pub fn grpc(target: Option<&str>) -> Result<Channel, Error> {
        let target = c_optional("target", target)?;
        Channel::from_raw(unsafe { ffi::clarifai_channel_new_grpc(as_ptr(&target)) })
    }

    /// gRPC over cleartext HTTP/2, for local servers and proxies. `None` means
    /// `$CLARIFAI_GRPC_BASE`.
    pub fn grpc_insecure(target: Option<&str>) -> Result<Channel, Error> {
        let target = c_optional("target", target)?;
        Channel::from_raw(unsafe { ffi::clarifai_channel_new_grpc_insecure(as_ptr(&target)) })
    }

    fn from_raw(raw: *mut ffi::clarifai_channel) -> Result<Channel, Error> {
        NonNull::new(raw)
            .map(|raw| Channel { raw })
            .ok_or_else(Error::last)
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        unsafe { ffi::clarifai_channel_free(self.raw.as_ptr()) }
    }
}

/// Who is calling, over which channel. Calls through one client may run on many threads at
/// once.
pub struct Client {
    raw: NonNull<ffi::clarifai_client>,
}

// The library's clients are thread-safe, and free to drop once no call through them runs,
// which `&self` borrows guarantee.
unsafe impl Send for Client {}
unsafe impl Sync for Client {}

impl Client {
    /// A client with a Personal Access Token or an app key (`None`: `$CLARIFAI_PAT`), whose
    /// user and app ids fill `user_app_id` in every request that leaves it out (`None`:
    /// `$CLARIFAI_USER_ID`, `$CLARIFAI_APP_ID`; `Some("")`: none).
    pub fn new(
        channel: &Channel,
        pat: Option<&str>,
        user_id: Option<&str>,
        app_id: Option<&str>,
    ) -> Result<Client, Error> {
        let pat = c_optional("pat", pat)?;
        let user_id = c_optional("user_id", user_id)?;
        let app_id = c_optional("app_id", app_id)?;
        Client::from_raw(unsafe {
            ffi::clarifai_client_new(
                channel.raw.as_ptr(),
                as_ptr(&pat),
                as_ptr(&user_id),
                as_ptr(&app_id),
            )
        })
    }

    /// A copy of this client (same channel, credential and ids) whose calls fail with
    /// [`ErrorCode::Timeout`] once `timeout` has passed, covering connect, send, receive and
    /// retries. Clients are cheap: keep one per timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Result<Client, Error> {
        let copy = Client::from_raw(unsafe { ffi::clarifai_client_dup(self.raw.as_ptr()) })?;
        // Whole milliseconds rounded up, at least 1 (0 would mean none); the library caps
        // what is beyond its range.
        let millis = ((timeout.as_nanos() + 999_999) / 1_000_000).max(1);
        let millis = c_long::try_from(millis).unwrap_or(c_long::MAX);
        Error::check(unsafe { ffi::clarifai_client_set_timeout_ms(copy.raw.as_ptr(), millis) })?;
        Ok(copy)
    }

    /// Calls any method of the V2 service by name (`"ListConcepts"`) with its request as proto3
    /// JSON (`""` for an empty request). A call that completed with a Clarifai status other than
    /// SUCCESS is an [`ErrorCode::Api`] error carrying the response.
    pub fn call(&self, method: &str, request_json: &str) -> Result<Response, Error> {
        let method = c_string("method", method)?;
        let request_json = c_string("request_json", request_json)?;
        let mut out = ptr::null_mut();
        let rc = unsafe {
            ffi::clarifai_call(
                self.raw.as_ptr(),
                method.as_ptr(),
                request_json.as_ptr(),
                &mut out,
            )
        };
        respond(rc, out)
    }

    /// Runs model `model_id` (its default version) on `inputs`. More than 128 go out as several
    /// requests whose outputs come back merged, in input order; when some inputs fail the
    /// [`ErrorCode::Api`] error (status 10010 MIXED_STATUS) carries the outputs of the others.
    pub fn predict(&self, model_id: &str, inputs: &[Input<'_>]) -> Result<Response, Error> {
        let model_id = c_string("model_id", model_id)?;
        let mut strings = Vec::new(); // the inputs' C strings, alive until the call returns
        let array = inputs
            .iter()
            .map(|input| input.to_c(&mut strings))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut out = ptr::null_mut();
        let rc = unsafe {
            ffi::clarifai_predict(
                self.raw.as_ptr(),
                model_id.as_ptr(),
                ptr::null(),
                array.as_ptr(),
                array.len(),
                &mut out,
            )
        };
        respond(rc, out)
    }

    /// Runs model `model_id` (its default version) on one image by URL.
    pub fn predict_url(&self, model_id: &str, url: &str) -> Result<Response, Error> {
        let model_id = c_string("model_id", model_id)?;
        let url = c_string("url", url)?;
        let mut out = ptr::null_mut();
        let rc = unsafe {
            ffi::clarifai_predict_url(
                self.raw.as_ptr(),
                model_id.as_ptr(),
                ptr::null(),
                url.as_ptr(),
                &mut out,
            )
        };
        respond(rc, out)
    }

    fn from_raw(raw: *mut ffi::clarifai_client) -> Result<Client, Error> {
        NonNull::new(raw)
            .map(|raw| Client { raw })
            .ok_or_else(Error::last)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        unsafe { ffi::clarifai_client_free(self.raw.as_ptr()) }
    }
}

/// The kind of an [`Input`]'s data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    Image = 0,
    Text = 1,
    Video = 2,
    Audio = 3,
}

/// One input to [`Client::predict`]: a URL, bytes or a text, borrowed for the call.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    kind: InputKind,
    source: Source<'a>,
    id: Option<&'a str>,
}

#[derive(Clone, Copy, Debug)]
enum Source<'a> {
    Url(&'a str),
    Bytes(&'a [u8]),
    Text(&'a str),
}

impl<'a> Input<'a> {
    /// Data the server fetches from `url`.
    pub fn url(kind: InputKind, url: &'a str) -> Input<'a> {
        Input {
            kind,
            source: Source::Url(url),
            id: None,
        }
    }

    /// Raw bytes (not base64; the library encodes them).
    pub fn bytes(kind: InputKind, bytes: &'a [u8]) -> Input<'a> {
        Input {
            kind,
            source: Source::Bytes(bytes),
            id: None,
        }
    }

    /// A text to predict on.
    pub fn text(text: &'a str) -> Input<'a> {
        Input {
            kind: InputKind::Text,
            source: Source::Text(text),
            id: None,
        }
    }

    /// The input's id, which the server chooses otherwise.
    pub fn with_id(self, id: &'a str) -> Input<'a> {
        Input {
            id: Some(id),
            ..self
        }
    }

    /// The library's view of the input, pointing into it and into the C strings it pushes
    /// onto `strings`.
    fn to_c(self, strings: &mut Vec<CString>) -> Result<ffi::clarifai_input, Error> {
        let mut c = |name, s: Option<&str>| -> Result<*const c_char, Error> {
            let s = c_optional(name, s)?;
            let p = as_ptr(&s);
            strings.extend(s); // moving a CString leaves its bytes in place
            Ok(p)
        };
        let (url, data, text) = match self.source {
            Source::Url(url) => (Some(url), None, None),
            Source::Bytes(bytes) => (None, Some(bytes), None),
            Source::Text(text) => (None, None, Some(text)),
        };
        Ok(ffi::clarifai_input {
            kind: self.kind as c_int,
            url: c("url", url)?,
            data: data.map_or(ptr::null(), |bytes| bytes.as_ptr().cast()),
            data_len: data.map_or(0, <[u8]>::len),
            text: c("text", text)?,
            id: c("id", self.id)?,
        })
    }
}

/// The outcome of a call that hands out a response: `*out` is set on success and on
/// `CLARIFAI_ERROR_API`, NULL otherwise.
fn respond(rc: c_int, out: *mut ffi::clarifai_response) -> Result<Response, Error> {
    let response = NonNull::new(out).map(Response::new);
    match response {
        Some(response) if rc == ffi::CLARIFAI_OK => Ok(response),
        response => Err(Error::last().with_response(response)),
    }
}

/// A C copy of `s`; C strings end at the first NUL, so one holding a NUL is refused.
pub(crate) fn c_string(name: &str, s: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::invalid_argument(format!("{name} contains a NUL byte")))
}

fn c_optional(name: &str, s: Option<&str>) -> Result<Option<CString>, Error> {
    s.map(|s| c_string(name, s)).transpose()
}

/// NULL (the library's default) for `None`.
fn as_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}
