//! The declarations of clarifai.h that the safe wrappers use.
#![allow(non_camel_case_types)]

use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_double, c_int, c_long, c_longlong, c_void};

use crate::response::{Concept, Region};

macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}
opaque!(clarifai_channel, clarifai_client, clarifai_response);

pub const CLARIFAI_OK: c_int = 0;

#[repr(C)]
pub struct clarifai_input {
    pub kind: c_int,
    pub url: *const c_char,
    pub data: *const c_void,
    pub data_len: usize,
    pub text: *const c_char,
    pub id: *const c_char,
}

extern "C" {
    pub fn clarifai_error_name(code: c_int) -> *const c_char;
    pub fn clarifai_last_error() -> *const c_char;
    pub fn clarifai_last_error_code() -> c_int;
    pub fn clarifai_last_error_http_status() -> c_int;
    pub fn clarifai_last_error_grpc_status() -> c_int;
    pub fn clarifai_last_error_transient() -> c_int;

    pub fn clarifai_channel_new_json(base_url: *const c_char) -> *mut clarifai_channel;
    pub fn clarifai_channel_new_grpc(target: *const c_char) -> *mut clarifai_channel;
    pub fn clarifai_channel_new_grpc_insecure(target: *const c_char) -> *mut clarifai_channel;
    pub fn clarifai_channel_free(channel: *mut clarifai_channel);

    pub fn clarifai_client_new(
        channel: *mut clarifai_channel,
        pat: *const c_char,
        user_id: *const c_char,
        app_id: *const c_char,
    ) -> *mut clarifai_client;
    pub fn clarifai_client_dup(client: *const clarifai_client) -> *mut clarifai_client;
    pub fn clarifai_client_set_timeout_ms(
        client: *mut clarifai_client,
        timeout_ms: c_long,
    ) -> c_int;
    pub fn clarifai_client_free(client: *mut clarifai_client);

    pub fn clarifai_call(
        client: *mut clarifai_client,
        method: *const c_char,
        request_json: *const c_char,
        out: *mut *mut clarifai_response,
    ) -> c_int;
    pub fn clarifai_predict(
        client: *mut clarifai_client,
        model_id: *const c_char,
        version_id: *const c_char,
        inputs: *const clarifai_input,
        count: usize,
        out: *mut *mut clarifai_response,
    ) -> c_int;
    pub fn clarifai_predict_url(
        client: *mut clarifai_client,
        model_id: *const c_char,
        version_id: *const c_char,
        url: *const c_char,
        out: *mut *mut clarifai_response,
    ) -> c_int;

    pub fn clarifai_response_status_code(response: *const clarifai_response) -> c_int;
    pub fn clarifai_response_status_description(
        response: *const clarifai_response,
    ) -> *const c_char;
    pub fn clarifai_response_request_id(response: *const clarifai_response) -> *const c_char;
    pub fn clarifai_response_json(response: *const clarifai_response) -> *const c_char;
    pub fn clarifai_response_output_count(response: *const clarifai_response) -> usize;
    pub fn clarifai_response_concepts(
        response: *const clarifai_response,
        output: usize,
        concepts: *mut *const Concept,
        count: *mut usize,
    ) -> c_int;
    pub fn clarifai_response_regions(
        response: *const clarifai_response,
        output: usize,
        regions: *mut *const Region,
        count: *mut usize,
    ) -> c_int;
    pub fn clarifai_response_text(
        response: *const clarifai_response,
        output: usize,
    ) -> *const c_char;
    pub fn clarifai_response_embedding(
        response: *const clarifai_response,
        output: usize,
        vector: *mut *const f32,
        dim: *mut usize,
    ) -> c_int;
    pub fn clarifai_response_count(
        response: *const clarifai_response,
        path: *const c_char,
    ) -> usize;
    pub fn clarifai_response_string(
        response: *const clarifai_response,
        path: *const c_char,
    ) -> *const c_char;
    pub fn clarifai_response_int64(
        response: *const clarifai_response,
        path: *const c_char,
        value: *mut c_longlong,
    ) -> c_int;
    pub fn clarifai_response_double(
        response: *const clarifai_response,
        path: *const c_char,
        value: *mut c_double,
    ) -> c_int;
    pub fn clarifai_response_free(response: *mut clarifai_response);
}
