// Package clarifai calls the Clarifai API (service clarifai.api.V2) through libclarifai, the
// Clarifai C library, over REST or gRPC.
//
//	client, err := clarifai.NewClient(clarifai.Config{UserID: "clarifai", AppID: "main"})
//	prediction, err := client.Predict(ctx, "general-image-recognition",
//		clarifai.Input{URL: "https://samples.clarifai.com/metro-north.jpg"})
//
// A Client is safe for concurrent use. Every call takes a context: its deadline becomes the
// call's timeout, and when it is cancelled the call returns at once (see Client.Predict).
package clarifai

/*
#cgo pkg-config: clarifai
#include <stdlib.h>
#include <string.h>
#include <clarifai.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Transport is how requests travel.
type Transport int

const (
	REST         Transport = iota // JSON over HTTPS (or http:// for a local server)
	GRPC                          // gRPC over TLS
	GRPCInsecure                  // gRPC over cleartext HTTP/2, for local servers and proxies
)

// Config says where a Client sends its calls and who makes them. An empty string means the
// library's default, read from the environment as the C library reads it.
type Config struct {
	Transport Transport
	// Endpoint is the REST base URL ("https://api.clarifai.com", default $CLARIFAI_API_BASE) or
	// the gRPC target ("api.clarifai.com:443", default $CLARIFAI_GRPC_BASE).
	Endpoint string
	PAT      string // a Personal Access Token or an app key; default $CLARIFAI_PAT
	// UserID and AppID fill user_app_id in every request that leaves it out; default
	// $CLARIFAI_USER_ID and $CLARIFAI_APP_ID. Clarifai's public models are in "clarifai", "main".
	UserID, AppID string
}

// Client makes calls with one credential over one connection pool. Close it when done; a
// Client that becomes unreachable is closed by the garbage collector.
type Client struct {
	mu     sync.RWMutex // held for reading by calls through handle, for writing by Close
	handle *C.clarifai_client
}

// NewClient opens a channel of cfg.Transport and a client on it.
func NewClient(cfg Config) (*Client, error) {
	var args cArgs
	defer args.free()
	endpoint := args.optional("Endpoint", cfg.Endpoint)
	pat := args.optional("PAT", cfg.PAT)
	userID := args.optional("UserID", cfg.UserID)
	appID := args.optional("AppID", cfg.AppID)
	if args.err != nil {
		return nil, args.err
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var channel *C.clarifai_channel
	switch cfg.Transport {
	case REST:
		channel = C.clarifai_channel_new_json(endpoint)
	case GRPC:
		channel = C.clarifai_channel_new_grpc(endpoint)
	case GRPCInsecure:
		channel = C.clarifai_channel_new_grpc_insecure(endpoint)
	default:
		return nil, invalidArgument("unknown Transport %d", cfg.Transport)
	}
	if channel == nil {
		return nil, lastError()
	}
	defer C.clarifai_channel_free(channel) // the client holds its own reference
	handle := C.clarifai_client_new(channel, pat, userID, appID)
	if handle == nil {
		return nil, lastError()
	}
	c := &Client{handle: handle}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// Close frees the client, after the calls in flight through it with a context that cannot be
// cancelled have returned (calls with a cancellable context run on a copy). Closing twice is
// fine; calls after Close return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	C.clarifai_client_free(c.handle) // NULL is fine
	c.handle = nil
	runtime.SetFinalizer(c, nil)
	return nil
}

// InputKind is the kind of an Input's data.
type InputKind int

const (
	Image InputKind = C.CLARIFAI_INPUT_IMAGE
	Text  InputKind = C.CLARIFAI_INPUT_TEXT
	Video InputKind = C.CLARIFAI_INPUT_VIDEO
	Audio InputKind = C.CLARIFAI_INPUT_AUDIO
)

// Input is one input to predict on: exactly one of URL, Bytes and Text (Text for Kind Text
// only). The zero Kind is Image.
type Input struct {
	Kind  InputKind
	URL   string
	Bytes []byte // raw bytes, not base64
	Text  string
	ID    string // optional; the server chooses one when empty
}

// Prediction is what a model said about its inputs, copied out of the library's response.
type Prediction struct {
	Outputs   []Output // one per input, in input order
	RequestID string
}

// Output is the result for one input.
type Output struct {
	Status    Status // its own status: one input may fail while the others succeed
	Concepts  []Concept
	Regions   []Region
	Text      string
	Embedding []float32
}

// Status is a Clarifai status: Code 10000 is SUCCESS.
type Status struct {
	Code        int
	Description string
}

// Concept is a concept a model saw, with its confidence Value in (0, 1].
type Concept struct {
	ID, Name string
	Value    float32
	AppID    string
}

// Region is a detected region with its bounding box (fractions 0..1 of the image's size).
type Region struct {
	ID                              string
	Top, Left, Bottom, Right, Value float32
	Concepts                        []Concept
}

// Predict runs model modelID (its default version) on the inputs with the client's user and app
// ids. More than 128 inputs go out as several requests whose outputs come back merged.
//
// ctx's deadline is the call's timeout (Error.Code CodeTimeout, unwrapping to
// context.DeadlineExceeded). When ctx is cancelled Predict returns CodeCancelled at once; the C
// library cannot stop a call in flight, so that call finishes in the background (by ctx's
// deadline, else by the library's idle limit) and its result is dropped.
//
// When the call completes with a Clarifai status other than SUCCESS, the error (CodeAPI) comes
// with the prediction: for 10010 MIXED_STATUS it holds the outputs that succeeded.
func (c *Client) Predict(ctx context.Context, modelID string, inputs ...Input) (*Prediction, error) {
	args := &cArgs{}
	model := args.string("modelID", modelID)
	cinputs, count := args.inputs(inputs), C.size_t(len(inputs))
	if args.err != nil {
		args.free()
		return nil, args.err
	}
	return run(ctx, c, args, func(client *C.clarifai_client) (*Prediction, error) {
		var response *C.clarifai_response
		rc := C.clarifai_predict(client, model, nil, cinputs, count, &response)
		return respond(rc, response, readPrediction)
	})
}

// Call calls any method of the V2 service by name ("ListConcepts") with request marshalled by
// encoding/json (a map, a struct with proto3 JSON names, a json.RawMessage; nil for an empty
// request), and returns the response in the REST API's JSON form. Context and errors as Predict.
func (c *Client) Call(ctx context.Context, method string, request any) (map[string]any, error) {
	args := &cArgs{}
	name := args.string("method", method)
	var body *C.char // NULL: an empty request
	if request != nil {
		text, err := json.Marshal(request)
		if err != nil {
			args.free()
			return nil, invalidArgument("%s request: %v", method, err)
		}
		body = args.string("request", string(text))
	}
	if args.err != nil {
		args.free()
		return nil, args.err
	}
	return run(ctx, c, args, func(client *C.clarifai_client) (map[string]any, error) {
		var response *C.clarifai_response
		rc := C.clarifai_call(client, name, body, &response)
		return respond(rc, response, readJSON)
	})
}

type outcome[T any] struct {
	value T
	err   error
}

// run makes a call through c and frees args, the call's C arguments, once it has returned.
// A context that can end runs the call on a copy of the client, in a goroutine: the copy
// carries ctx's deadline as its timeout, and it is freed by that goroutine, so that neither
// Close nor the caller's return has to wait for a cancelled call.
func run[T any](ctx context.Context, c *Client, args *cArgs, call func(*C.clarifai_client) (T, error)) (T, error) {
	var zero T
	if ctx.Done() == nil {
		defer args.free()
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.handle == nil {
			return zero, ErrClosed
		}
		return onThread(c.handle, call)
	}
	if err := ctx.Err(); err != nil {
		args.free()
		return zero, contextError(err)
	}
	client, err := c.copyFor(ctx)
	if err != nil {
		args.free()
		return zero, err
	}
	done := make(chan outcome[T], 1)
	go func() {
		value, err := onThread(client, call)
		// Freed before the result is handed over: a call that returns holds nothing.
		C.clarifai_client_free(client)
		args.free()
		done <- outcome[T]{value, err}
	}()
	select {
	case result := <-done:
		// The library's timeout is ctx's deadline, and its millisecond timer may see it pass a
		// hair before ctx does; its idle limit, the other timeout, is seconds away from it.
		if e, ok := result.err.(*Error); ok && e.Code == CodeTimeout {
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 10*time.Millisecond {
				e.cause = context.DeadlineExceeded
			}
		}
		return result.value, result.err
	case <-ctx.Done():
		return zero, contextError(ctx.Err())
	}
}

// onThread runs call locked to one OS thread, where it can read the library's last error.
func onThread[T any](client *C.clarifai_client, call func(*C.clarifai_client) (T, error)) (T, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return call(client)
}

// copyFor returns a copy of the client whose timeout is ctx's deadline, if any.
func (c *Client) copyFor(ctx context.Context) (*C.clarifai_client, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return nil, ErrClosed
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	client := C.clarifai_client_dup(c.handle)
	if client == nil {
		return nil, lastError()
	}
	if deadline, ok := ctx.Deadline(); ok {
		// Whole milliseconds rounded up, at least 1 (0 would mean none).
		ms := (time.Until(deadline) + time.Millisecond - 1) / time.Millisecond
		if ms < 1 {
			ms = 1
		}
		if C.clarifai_client_set_timeout_ms(client, C.long(ms)) != C.CLARIFAI_OK {
			err := lastError()
			C.clarifai_client_free(client)
			return nil, err
		}
	}
	return client, nil
}

// respond turns a call's outcome into Go values and frees the response. read copies what the
// caller gets out of the response, on success and when the call completed with a Clarifai
// status other than SUCCESS.
func respond[T any](rc C.int, response *C.clarifai_response, read func(*C.clarifai_response) (T, error)) (T, error) {
	defer C.clarifai_response_free(response) // NULL is fine
	if rc == C.CLARIFAI_OK {
		return read(response)
	}
	err := lastError() // before read calls into the library
	var value T
	if rc == C.CLARIFAI_ERROR_API {
		err.Status = int(C.clarifai_response_status_code(response))
		err.RequestID = C.GoString(C.clarifai_response_request_id(response))
		// A response without a JSON form would say less than the API error itself.
		value, _ = read(response)
	}
	return value, err
}

func readJSON(response *C.clarifai_response) (map[string]any, error) {
	text := C.clarifai_response_json(response)
	if text == nil {
		return nil, lastError()
	}
	var result map[string]any
	// Decoded straight from the response's memory: Unmarshal keeps no reference to it.
	if err := json.Unmarshal(unsafe.Slice((*byte)(unsafe.Pointer(text)), C.strlen(text)), &result); err != nil {
		return nil, &Error{Code: CodeProtocol, Message: err.Error(), GRPCStatus: -1}
	}
	return result, nil
}

func readPrediction(response *C.clarifai_response) (*Prediction, error) {
	prediction := &Prediction{
		Outputs:   make([]Output, C.clarifai_response_output_count(response)),
		RequestID: C.GoString(C.clarifai_response_request_id(response)),
	}
	// Indexes below the output count cannot fail, nor can the status paths.
	for i := range prediction.Outputs {
		output := &prediction.Outputs[i]
		index := C.size_t(i)
		output.Status = readStatus(response, i)

		var concepts *C.clarifai_concept
		var count C.size_t
		C.clarifai_response_concepts(response, index, &concepts, &count)
		output.Concepts = goConcepts(concepts, count)

		var regions *C.clarifai_region
		C.clarifai_response_regions(response, index, &regions, &count)
		for _, r := range unsafe.Slice(regions, count) {
			output.Regions = append(output.Regions, Region{
				ID: C.GoString(r.id), Top: float32(r.top_row), Left: float32(r.left_col),
				Bottom: float32(r.bottom_row), Right: float32(r.right_col), Value: float32(r.value),
				Concepts: goConcepts(r.concepts, r.concept_count),
			})
		}

		if text := C.clarifai_response_text(response, index); text != nil {
			output.Text = C.GoString(text)
		}

		var vector *C.float
		C.clarifai_response_embedding(response, index, &vector, &count)
		if count > 0 {
			output.Embedding = append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(vector)), count)...)
		}
	}
	return prediction, nil
}

func readStatus(response *C.clarifai_response, output int) Status {
	code := C.CString(fmt.Sprintf("outputs[%d].status.code", output))
	defer C.free(unsafe.Pointer(code))
	description := C.CString(fmt.Sprintf("outputs[%d].status.description", output))
	defer C.free(unsafe.Pointer(description))
	var value C.longlong
	C.clarifai_response_int64(response, code, &value)
	return Status{Code: int(value), Description: C.GoString(C.clarifai_response_string(response, description))}
}

func goConcepts(concepts *C.clarifai_concept, count C.size_t) []Concept {
	var result []Concept
	for _, c := range unsafe.Slice(concepts, count) {
		result = append(result, Concept{ID: C.GoString(c.id), Name: C.GoString(c.name), Value: float32(c.value), AppID: C.GoString(c.app_id)})
	}
	return result
}

// cArgs holds C copies of a call's arguments, so that the library never sees Go memory after
// the call returns (cgo's pointer rules) and the caller may reuse its buffers at once. The
// first invalid argument is kept in err.
type cArgs struct {
	allocated []unsafe.Pointer
	err       error
}

func (a *cArgs) alloc(p unsafe.Pointer) unsafe.Pointer {
	a.allocated = append(a.allocated, p)
	return p
}

// string copies s; C strings end at the first NUL, so a string holding one is refused.
func (a *cArgs) string(name, s string) *C.char {
	if strings.IndexByte(s, 0) >= 0 && a.err == nil {
		a.err = invalidArgument("%s contains a NUL byte", name)
	}
	return (*C.char)(a.alloc(unsafe.Pointer(C.CString(s))))
}

// optional is string, with NULL (the library's default) for "".
func (a *cArgs) optional(name, s string) *C.char {
	if s == "" {
		return nil
	}
	return a.string(name, s)
}

func (a *cArgs) inputs(inputs []Input) *C.clarifai_input {
	array := (*C.clarifai_input)(a.alloc(C.calloc(C.size_t(len(inputs)), C.sizeof_clarifai_input)))
	for i, input := range inputs {
		c := &unsafe.Slice(array, len(inputs))[i]
		c.kind = C.int(input.Kind)
		c.url = a.optional("Input.URL", input.URL)
		c.text = a.optional("Input.Text", input.Text)
		c.id = a.optional("Input.ID", input.ID)
		if len(input.Bytes) > 0 {
			c.data = a.alloc(C.CBytes(input.Bytes))
			c.data_len = C.size_t(len(input.Bytes))
		}
	}
	return array
}

func (a *cArgs) free() {
	for _, p := range a.allocated {
		C.free(p)
	}
	a.allocated = nil
}
