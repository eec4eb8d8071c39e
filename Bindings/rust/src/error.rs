use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_int;

use crate::ffi;
use crate::response::Response;

/// What went wrong, and so what to do next: the library's `CLARIFAI_ERROR_*` codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request or its arguments are wrong (found locally, or said by the server): fix them.
    InvalidArgument,
    /// No answer, or the server could not take the call now: try again later.
    Transport,
    /// The deadline (or the idle limit) passed.
    Timeout,
    /// The server failed, or its answer is not a valid reply.
    Protocol,
    /// The call completed with a Clarifai status other than SUCCESS: see [`Error::response`].
    Api,
    /// The channel or the server cannot carry the method.
    Unsupported,
    /// The caller stopped the call.
    Cancelled,
    /// A bug of the library.
    Internal,
    /// The credentials were refused.
    Auth,
    /// A code added to the library after these bindings: a failure all the same.
    Other(i32),
}

impl ErrorCode {
    fn from_raw(code: c_int) -> ErrorCode {
        match code {
            1 => ErrorCode::InvalidArgument,
            2 => ErrorCode::Transport,
            3 => ErrorCode::Timeout,
            4 => ErrorCode::Protocol,
            5 => ErrorCode::Api,
            6 => ErrorCode::Unsupported,
            7 => ErrorCode::Cancelled,
            8 => ErrorCode::Internal,
            9 => ErrorCode::Auth,
            other => ErrorCode::Other(other),
        }
    }

    fn raw(self) -> c_int {
        match self {
            ErrorCode::InvalidArgument => 1,
            ErrorCode::Transport => 2,
            ErrorCode::Timeout => 3,
            ErrorCode::Protocol => 4,
            ErrorCode::Api => 5,
            ErrorCode::Unsupported => 6,
            ErrorCode::Cancelled => 7,
            ErrorCode::Internal => 8,
            ErrorCode::Auth => 9,
            ErrorCode::Other(code) => code,
        }
    }

    /// The constant's name in clarifai.h, e.g. `"CLARIFAI_ERROR_TIMEOUT"`.
    pub fn name(self) -> &'static str {
        // Static ASCII storage of the library.
        unsafe { CStr::from_ptr(ffi::clarifai_error_name(self.raw())) }
            .to_str()
            .unwrap_or("CLARIFAI_ERROR_UNKNOWN")
    }
}

/// A failed call: the library's code and message, the detail of the answer behind it, and for
/// [`ErrorCode::Api`] the response itself.
#[derive(Debug)]
pub struct Error {
    code: ErrorCode,
    message: String,
    http_status: c_int,
    grpc_status: c_int,
    transient: bool,
    response: Option<Response>,
}

impl Error {
    /// The calling thread's last failure. The library keeps it per thread and the next call into
    /// it replaces it: read it right after the failing function.
    pub(crate) fn last() -> Error {
        // The message is valid until the thread's next call into the library: copied first.
        let message = unsafe { CStr::from_ptr(ffi::clarifai_last_error()) }
            .to_string_lossy()
            .into_owned();
        unsafe {
            Error {
                code: ErrorCode::from_raw(ffi::clarifai_last_error_code()),
                message,
                http_status: ffi::clarifai_last_error_http_status(),
                grpc_status: ffi::clarifai_last_error_grpc_status(),
                transient: ffi::clarifai_last_error_transient() != 0,
                response: None,
            }
        }
    }

    /// `Err(last())` when `rc` is not `CLARIFAI_OK`.
    pub(crate) fn check(rc: c_int) -> Result<(), Error> {
        if rc == ffi::CLARIFAI_OK {
            Ok(())
        } else {
            Err(Error::last())
        }
    }

    /// A mistake found before calling into the library.
    pub(crate) fn invalid_argument(message: String) -> Error {
        Error {
            code: ErrorCode::InvalidArgument,
            message,
            http_status: 0,
            grpc_status: -1,
            transient: false,
            response: None,
        }
    }

    pub(crate) fn with_response(mut self, response: Option<Response>) -> Error {
        self.response = response;
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// What was wrong (method, field, URL, status); never shows the token.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the answer; `None` when no answer arrived or the failure was local.
    pub fn http_status(&self) -> Option<u16> {
        u16::try_from(self.http_status)
            .ok()
            .filter(|&status| status != 0)
    }

    /// The gRPC status of the answer: `Some(0)` when a gRPC call completed with a Clarifai status
    /// other than SUCCESS, `None` on REST and when none arrived.
    pub fn grpc_status(&self) -> Option<i32> {
        Some(self.grpc_status).filter(|&status| status >= 0)
    }

    /// Whether the library's retry policy counts the failure as one that trying again later may
    /// cure.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The response of an [`ErrorCode::Api`] failure: its status, and for a 10010 MIXED_STATUS
    /// prediction the outputs that succeeded.
    pub fn response(&self) -> Option<&Response> {
        self.response.as_ref()
    }

    /// The Clarifai status code of an [`ErrorCode::Api`] failure, e.g. 11008 CONN_KEY_INVALID.
    pub fn status_code(&self) -> Option<i32> {
        self.response.as_ref().map(Response::status_code)
    }

    /// The server's id of the request of an [`ErrorCode::Api`] failure, to quote to Clarifai
    /// support.
    pub fn request_id(&self) -> Option<&str> {
        self.response.as_ref().map(Response::request_id)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Error {}
