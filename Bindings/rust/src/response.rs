use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_char;
use std::ptr::{self, NonNull};
use std::slice;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::Error;
use crate::{c_string, ffi};

/// A response message, held by the library. What its getters return borrows from it and lives
/// until it is dropped.
///
/// The library lets one thread at a time use a response (its getters fill caches), so every
/// getter takes a lock: a `Response` is `Send` and `Sync`, and so is an [`Error`] carrying one.
pub struct Response {
    raw: NonNull<ffi::clarifai_response>,
    lock: Mutex<()>,
}

// The library's responses may move between threads; `lock` makes shared use one at a time.
unsafe impl Send for Response {}
unsafe impl Sync for Response {}

impl Response {
    pub(crate) fn new(raw: NonNull<ffi::clarifai_response>) -> Response {
        Response {
            raw,
            lock: Mutex::new(()),
        }
    }

    fn guard(&self) -> (MutexGuard<'_, ()>, *const ffi::clarifai_response) {
        // The lock guards no data, so a panic while it was held leaves nothing inconsistent.
        (
            self.lock.lock().unwrap_or_else(PoisonError::into_inner),
            self.raw.as_ptr(),
        )
    }

    /// `status.code`: 10000 is SUCCESS.
    pub fn status_code(&self) -> i32 {
        let (_guard, raw) = self.guard();
        unsafe { ffi::clarifai_response_status_code(raw) }
    }

    pub fn status_description(&self) -> &str {
        let (_guard, raw) = self.guard();
        unsafe { text(ffi::clarifai_response_status_description(raw)) }
    }

    /// `status.req_id`: the server's id for the request, to quote to Clarifai support.
    pub fn request_id(&self) -> &str {
        let (_guard, raw) = self.guard();
        unsafe { text(ffi::clarifai_response_request_id(raw)) }
    }

    /// The whole message as JSON in the REST API's form (the same text on every channel).
    pub fn json(&self) -> Result<&str, Error> {
        let (_guard, raw) = self.guard();
        let json = unsafe { ffi::clarifai_response_json(raw) };
        if json.is_null() {
            return Err(Error::last());
        }
        Ok(unsafe { text(json) })
    }

    /// The number of `outputs` (one per input of a prediction).
    pub fn output_count(&self) -> usize {
        let (_guard, raw) = self.guard();
        unsafe { ffi::clarifai_response_output_count(raw) }
    }

    /// `outputs[output].data.concepts`, borrowed from the response.
    pub fn concepts(&self, output: usize) -> Result<&[Concept], Error> {
        let (_guard, raw) = self.guard();
        let (mut concepts, mut count) = (ptr::null(), 0);
        Error::check(unsafe {
            ffi::clarifai_response_concepts(raw, output, &mut concepts, &mut count)
        })?;
        Ok(unsafe { array(concepts, count) })
    }

    /// `outputs[output].data.regions`, each with its bounding box and concepts.
    pub fn regions(&self, output: usize) -> Result<&[Region], Error> {
        let (_guard, raw) = self.guard();
        let (mut regions, mut count) = (ptr::null(), 0);
        Error::check(unsafe {
            ffi::clarifai_response_regions(raw, output, &mut regions, &mut count)
        })?;
        Ok(unsafe { array(regions, count) })
    }

    /// `outputs[output].data.text.raw`; `None` when absent or past the last output.
    pub fn text(&self, output: usize) -> Option<&str> {
        let (_guard, raw) = self.guard();
        let text_ptr = unsafe { ffi::clarifai_response_text(raw, output) };
        (!text_ptr.is_null()).then(|| unsafe { text(text_ptr) })
    }

    /// `outputs[output].data.embeddings[0].vector`; empty when the output has none.
    pub fn embedding(&self, output: usize) -> Result<&[f32], Error> {
        let (_guard, raw) = self.guard();
        let (mut vector, mut dim) = (ptr::null(), 0);
        Error::check(unsafe {
            ffi::clarifai_response_embedding(raw, output, &mut vector, &mut dim)
        })?;
        Ok(unsafe { array(vector, dim) })
    }

    /// The number of elements of a repeated field named by its path, e.g. `"concepts"` or
    /// `"outputs[0].data.concepts"` (original field names, `.` between levels, `[i]` for an
    /// element).
    pub fn count(&self, path: &str) -> Result<usize, Error> {
        let path = c_string("path", path)?;
        let (_guard, raw) = self.guard();
        let count = unsafe { ffi::clarifai_response_count(raw, path.as_ptr()) };
        // 0 is also the failure's value: path getters clear the last error when they succeed.
        if unsafe { ffi::clarifai_last_error_code() } != ffi::CLARIFAI_OK {
            return Err(Error::last());
        }
        Ok(count)
    }

    /// A string field, or an enum field by its value's name, e.g. `"outputs[1].status.description"`.
    pub fn string(&self, path: &str) -> Result<&str, Error> {
        let path = c_string("path", path)?;
        let (_guard, raw) = self.guard();
        let value = unsafe { ffi::clarifai_response_string(raw, path.as_ptr()) };
        if value.is_null() {
            return Err(Error::last());
        }
        Ok(unsafe { text(value) })
    }

    /// An integer, bool (0 or 1) or enum (its number) field, e.g. `"outputs[0].status.code"`.
    pub fn int64(&self, path: &str) -> Result<i64, Error> {
        let path = c_string("path", path)?;
        let (_guard, raw) = self.guard();
        let mut value = 0;
        Error::check(unsafe { ffi::clarifai_response_int64(raw, path.as_ptr(), &mut value) })?;
        Ok(value)
    }

    /// A float or double field, e.g. `"outputs[0].data.concepts[0].value"`.
    pub fn double(&self, path: &str) -> Result<f64, Error> {
        let path = c_string("path", path)?;
        let (_guard, raw) = self.guard();
        let mut value = 0.0;
        Error::check(unsafe { ffi::clarifai_response_double(raw, path.as_ptr(), &mut value) })?;
        Ok(value)
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        unsafe { ffi::clarifai_response_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status_code", &self.status_code())
            .field("request_id", &self.request_id())
            .finish()
    }
}

/// A concept a model saw, as the library lays it out in the response. Only ever seen by
/// reference, borrowed from its [`Response`]; not `Clone`, since a copy could outlive it.
#[repr(C)]
pub struct Concept {
    id: *const c_char,
    name: *const c_char,
    value: f32,
    app_id: *const c_char,
}

/// A detected region, as the library lays it out in the response: its bounding box (fractions
/// 0..1 of the image's size) and its concepts. Borrowed from its [`Response`], like [`Concept`].
#[repr(C)]
pub struct Region {
    id: *const c_char,
    top_row: f32,
    left_col: f32,
    bottom_row: f32,
    right_col: f32,
    value: f32,
    concepts: *const Concept,
    concept_count: usize,
}

// What they point to is the response's, written once and never changed until it is freed.
unsafe impl Sync for Concept {}
unsafe impl Sync for Region {}

impl Concept {
    pub fn id(&self) -> &str {
        unsafe { text(self.id) }
    }
    pub fn name(&self) -> &str {
        unsafe { text(self.name) }
    }
    pub fn value(&self) -> f32 {
        self.value
    }
    pub fn app_id(&self) -> &str {
        unsafe { text(self.app_id) }
    }
}

impl fmt::Debug for Concept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Concept")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("value", &self.value)
            .field("app_id", &self.app_id())
            .finish()
    }
}

impl Region {
    pub fn id(&self) -> &str {
        unsafe { text(self.id) }
    }
    pub fn top_row(&self) -> f32 {
        self.top_row
    }
    pub fn left_col(&self) -> f32 {
        self.left_col
    }
    pub fn bottom_row(&self) -> f32 {
        self.bottom_row
    }
    pub fn right_col(&self) -> f32 {
        self.right_col
    }
    pub fn value(&self) -> f32 {
        self.value
    }
    pub fn concepts(&self) -> &[Concept] {
        unsafe { array(self.concepts, self.concept_count) }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("id", &self.id())
            .field(
                "box",
                &[self.top_row, self.left_col, self.bottom_row, self.right_col],
            )
            .field("value", &self.value)
            .field("concepts", &self.concepts())
            .finish()
    }
}

/// The library's string at `p`, "" for NULL. Strings of a response are UTF-8 (protobuf
/// strings); one that is not reads as "".
///
/// Safety: `p` is NULL or a NUL-terminated string that outlives `'a`.
unsafe fn text<'a>(p: *const c_char) -> &'a str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

/// The library's array at `p` of `count` elements (NULL when empty).
///
/// Safety: `p` is NULL with `count` 0, or points to `count` elements that outlive `'a`.
unsafe fn array<'a, T>(p: *const T, count: usize) -> &'a [T] {
    if p.is_null() {
        &[]
    } else {
        slice::from_raw_parts(p, count)
    }
}
