package clarifai

/*
#include <clarifai.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

// Code is the library's error code (CLARIFAI_ERROR_* in clarifai.h). It says what to do next;
// codes are only ever added, so treat one you do not know as a failure. A Code is an error
// itself, so that errors.Is(err, clarifai.CodeTimeout) tests a failure's code.
type Code int

// The codes of clarifai.h.
const (
	CodeInvalidArgument Code = C.CLARIFAI_ERROR_INVALID_ARGUMENT // fix the request or its arguments
	CodeTransport       Code = C.CLARIFAI_ERROR_TRANSPORT        // no answer, or the server is busy: try again later
	CodeTimeout         Code = C.CLARIFAI_ERROR_TIMEOUT          // the deadline passed
	CodeProtocol        Code = C.CLARIFAI_ERROR_PROTOCOL         // the server failed or answered nonsense
	CodeAPI             Code = C.CLARIFAI_ERROR_API              // completed with a Clarifai status other than SUCCESS
	CodeUnsupported     Code = C.CLARIFAI_ERROR_UNSUPPORTED      // the channel or server cannot carry the method
	CodeCancelled       Code = C.CLARIFAI_ERROR_CANCELLED        // the caller stopped the call
	CodeInternal        Code = C.CLARIFAI_ERROR_INTERNAL         // a bug of the library
	CodeAuth            Code = C.CLARIFAI_ERROR_AUTH             // the credentials were refused
)

// Error returns the code's name in clarifai.h, e.g. "CLARIFAI_ERROR_TIMEOUT".
func (c Code) Error() string { return C.GoString(C.clarifai_error_name(C.int(c))) }

// ErrClosed is returned by calls on a Client after Close.
var ErrClosed = errors.New("clarifai: client is closed")

// Error is a failed call: the library's code and message, and the detail of the answer behind
// it. Get it with errors.As.
type Error struct {
	Code    Code
	Message string // names what was wrong (method, field, URL, status); never shows the token
	// HTTPStatus is the HTTP status of the answer, 0 when none arrived or the failure was local.
	HTTPStatus int
	// GRPCStatus is the gRPC status of the answer: 0 when a gRPC call completed with a Clarifai
	// status other than SUCCESS, -1 on REST and when none arrived.
	GRPCStatus int
	// Transient says that the library's retry policy counts the failure as one that trying
	// again later may cure.
	Transient bool
	// Status and RequestID are the response's status.code (e.g. 11008 CONN_KEY_INVALID) and
	// status.req_id (to quote to Clarifai support) when Code is CodeAPI; 0 and "" otherwise.
	Status    int
	RequestID string

	cause error // the context's error when the context ended the call
}

func (e *Error) Error() string { return fmt.Sprintf("%v: %s", e.Code, e.Message) }

// Is reports whether target is e's Code.
func (e *Error) Is(target error) bool {
	code, ok := target.(Code)
	return ok && code == e.Code
}

// Unwrap returns context.DeadlineExceeded or context.Canceled when the call's context ended it.
func (e *Error) Unwrap() error { return e.cause }

// lastError reads the calling thread's last failure. The library keeps it per OS thread and the
// next call into the library replaces it: call it right after the failing function, with the
// goroutine locked to its thread.
func lastError() *Error {
	return &Error{
		Code:       Code(C.clarifai_last_error_code()),
		Message:    C.GoString(C.clarifai_last_error()),
		HTTPStatus: int(C.clarifai_last_error_http_status()),
		GRPCStatus: int(C.clarifai_last_error_grpc_status()),
		Transient:  C.clarifai_last_error_transient() != 0,
	}
}

// invalidArgument is a mistake found before calling into the library.
func invalidArgument(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...), GRPCStatus: -1}
}

// contextError is the failure of a call whose context ended first.
func contextError(err error) *Error {
	code := CodeCancelled
	if errors.Is(err, context.DeadlineExceeded) {
		code = CodeTimeout
	}
	return &Error{Code: code, Message: err.Error(), GRPCStatus: -1, cause: err}
}
