package clarifai_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"clarifai"
)

const imageURL = "https://samples.clarifai.com/metro-north.jpg"

// The tests run against the local test server (Tests/Server), which run_with_server.py starts
// and names in CLARIFAI_API_BASE, CLARIFAI_GRPC_BASE and CLARIFAI_PAT.
func TestMain(m *testing.M) {
	if os.Getenv("CLARIFAI_API_BASE") == "" || os.Getenv("CLARIFAI_GRPC_BASE") == "" {
		fmt.Fprintln(os.Stderr, "run under the local test server: .venv/bin/python Tests/Server/run_with_server.py -- go test ./...")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// eachTransport runs test on REST and on cleartext gRPC, with the endpoints from the environment.
func eachTransport(t *testing.T, test func(t *testing.T, cfg clarifai.Config)) {
	for _, transport := range []struct {
		name string
		kind clarifai.Transport
	}{{"REST", clarifai.REST}, {"gRPC", clarifai.GRPCInsecure}} {
		t.Run(transport.name, func(t *testing.T) {
			test(t, clarifai.Config{Transport: transport.kind, UserID: "test-user", AppID: "main"})
		})
	}
}

func newClient(t *testing.T, cfg clarifai.Config) *clarifai.Client {
	t.Helper()
	client, err := clarifai.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func withTimeout(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// failure checks that err is a *clarifai.Error with code and returns it.
func failure(t *testing.T, err error, code clarifai.Code) *clarifai.Error {
	t.Helper()
	var e *clarifai.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *clarifai.Error, got %T %v", err, err)
	}
	if !errors.Is(err, code) {
		t.Fatalf("want %v, got %v", code, err)
	}
	return e
}

func TestPredictURL(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		client := newClient(t, cfg)
		prediction, err := client.Predict(context.Background(), "general-image-recognition", clarifai.Input{URL: imageURL})
		if err != nil {
			t.Fatal(err)
		}
		if prediction.RequestID == "" || len(prediction.Outputs) != 1 {
			t.Fatalf("want one output and a request id, got %+v", prediction)
		}
		output := prediction.Outputs[0]
		if output.Status.Code != 10000 || len(output.Concepts) != 20 {
			t.Fatalf("want status 10000 and 20 concepts, got %+v", output)
		}
		for i, concept := range output.Concepts {
			if !strings.HasPrefix(concept.ID, "ai_") || concept.Name == "" || concept.Value <= 0 || concept.Value > 1 ||
				(i > 0 && concept.Value > output.Concepts[i-1].Value) {
				t.Errorf("concept %d: %+v", i, concept)
			}
		}
	})
}

func TestPredictKinds(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		client := newClient(t, cfg)
		ctx := withTimeout(t, 10*time.Second)

		detection, err := client.Predict(ctx, "general-image-detection", clarifai.Input{URL: imageURL})
		if err != nil {
			t.Fatal(err)
		}
		regions := detection.Outputs[0].Regions
		if len(regions) < 1 || len(regions) > 3 {
			t.Fatalf("want 1-3 regions, got %+v", regions)
		}
		for _, region := range regions {
			if len(region.Concepts) != 3 || region.Top < 0 || region.Top >= region.Bottom || region.Left >= region.Right || region.Right > 1 {
				t.Errorf("region %+v", region)
			}
		}

		embeddings, err := client.Predict(ctx, "general-image-embedding",
			clarifai.Input{URL: imageURL}, clarifai.Input{Bytes: []byte("\x89PNG not really"), ID: "bytes-input"})
		if err != nil {
			t.Fatal(err)
		}
		for _, output := range embeddings.Outputs {
			norm := 0.0
			for _, x := range output.Embedding {
				norm += float64(x) * float64(x)
			}
			if len(output.Embedding) != 16 || math.Abs(norm-1) > 1e-4 {
				t.Errorf("want a 16-float unit vector, got %v", output.Embedding)
			}
		}

		echo, err := client.Predict(ctx, "text-echo", clarifai.Input{Kind: clarifai.Text, Text: "hello"})
		if err != nil || echo.Outputs[0].Text != "echo: hello" {
			t.Fatalf("want echo: hello, got %+v, %v", echo, err)
		}
	})
}

// A prediction whose inputs partly fail comes back with the error.
func TestPredictMixedStatus(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		client := newClient(t, cfg)
		prediction, err := client.Predict(withTimeout(t, 10*time.Second), "text-echo",
			clarifai.Input{Kind: clarifai.Text, Text: "fine"}, clarifai.Input{URL: imageURL})
		if e := failure(t, err, clarifai.CodeAPI); e.Status != 10010 {
			t.Fatalf("want status 10010 MIXED_STATUS, got %+v", e)
		}
		if prediction.Outputs[0].Text != "echo: fine" || prediction.Outputs[1].Status.Code != 30104 {
			t.Fatalf("want the first output and the second's failure, got %+v", prediction.Outputs)
		}
	})
}

func TestCallConcepts(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		client := newClient(t, cfg)
		ctx := withTimeout(t, 10*time.Second)
		id := fmt.Sprintf("go-%d-%d", cfg.Transport, time.Now().UnixNano())
		if _, err := client.Call(ctx, "PostConcepts", map[string]any{
			"concepts": []map[string]any{{"id": id, "name": "Go concept"}},
		}); err != nil {
			t.Fatal(err)
		}
		response, err := client.Call(ctx, "ListConcepts", map[string]any{"per_page": 500})
		if err != nil {
			t.Fatal(err)
		}
		if code := response["status"].(map[string]any)["code"]; code != 10000.0 {
			t.Fatalf("want status 10000, got %v", code)
		}
		for _, concept := range response["concepts"].([]any) {
			if concept.(map[string]any)["id"] == id {
				return
			}
		}
		t.Fatalf("concept %s not listed: %v", id, response["concepts"])
	})
}

func TestBadToken(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		cfg.PAT = "not-a-token"
		client := newClient(t, cfg)
		_, err := client.Predict(withTimeout(t, 10*time.Second), "general-image-recognition", clarifai.Input{URL: imageURL})
		e := failure(t, err, clarifai.CodeAPI)
		wantHTTP, wantGRPC := 401, -1
		if cfg.Transport == clarifai.GRPCInsecure {
			wantHTTP, wantGRPC = 200, 0 // gRPC ends OK with the Clarifai status in the message
		}
		if e.Status != 11008 || e.RequestID == "" || e.HTTPStatus != wantHTTP || e.GRPCStatus != wantGRPC || e.Transient {
			t.Fatalf("want status 11008, HTTP %d, gRPC %d, not transient, a request id; got %+v", wantHTTP, wantGRPC, e)
		}
		if strings.Contains(e.Message, "not-a-token") {
			t.Fatalf("the message shows the token: %s", e.Message)
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		client := newClient(t, cfg)
		ctx := withTimeout(t, 10*time.Second)
		_, err := client.Call(ctx, "NoSuchMethod", nil)
		if e := failure(t, err, clarifai.CodeInvalidArgument); !strings.Contains(e.Message, "NoSuchMethod") ||
			e.HTTPStatus != 0 || e.GRPCStatus != -1 || e.Transient {
			t.Fatalf("want a local failure naming the method, got %+v", e)
		}
		_, err = client.Call(ctx, "ListConcepts", map[string]any{"no_such_field": 1})
		if e := failure(t, err, clarifai.CodeInvalidArgument); !strings.Contains(e.Message, "no_such_field") {
			t.Fatalf("want the field named, got %v", e)
		}
		_, err = client.Predict(ctx, "general\x00image-recognition", clarifai.Input{URL: imageURL})
		failure(t, err, clarifai.CodeInvalidArgument)
		for _, inputs := range [][]clarifai.Input{nil, {{Bytes: []byte{}}}} {
			_, err = client.Predict(ctx, "general-image-recognition", inputs...)
			failure(t, err, clarifai.CodeInvalidArgument)
		}

		cfg.Endpoint = "ftp://127.0.0.1"
		if cfg.Transport == clarifai.GRPCInsecure {
			cfg.Endpoint = "http://127.0.0.1:1" // a target, not a URL
		}
		_, err = clarifai.NewClient(cfg)
		failure(t, err, clarifai.CodeInvalidArgument)
	})
}

// silentServer returns cfg pointed at a listener that never answers: the kernel accepts the
// connection and takes the request, nobody reads it. Closing it resets those connections.
func silentServer(t *testing.T, cfg clarifai.Config) (clarifai.Config, net.Listener) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	cfg.Endpoint = listener.Addr().String()
	if cfg.Transport == clarifai.REST {
		cfg.Endpoint = "http://" + cfg.Endpoint
	}
	return cfg, listener
}

// callsInFlight reports whether a call runs in the background: a goroutine that the package's
// run started is alive.
func callsInFlight() bool {
	stacks := make([]byte, 1<<20)
	return bytes.Contains(stacks[:runtime.Stack(stacks, true)], []byte("clarifai.run["))
}

// eventually polls condition for up to 5 s.
func eventually(t *testing.T, what string, condition func() bool) {
	t.Helper()
	for start := time.Now(); !condition(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("still not %s after 5 s", what)
		}
	}
}

func TestDeadline(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		cfg, _ = silentServer(t, cfg)
		client := newClient(t, cfg)
		start := time.Now()
		_, err := client.Predict(withTimeout(t, 300*time.Millisecond), "general-image-recognition", clarifai.Input{URL: imageURL})
		elapsed := time.Since(start)
		failure(t, err, clarifai.CodeTimeout)
		if !errors.Is(err, context.DeadlineExceeded) || elapsed < 290*time.Millisecond || elapsed > 2*time.Second {
			t.Fatalf("want context.DeadlineExceeded after 300 ms, got %v after %v", err, elapsed)
		}
		// The library's own timeout ends the C call too, not its 2-minute idle limit.
		eventually(t, "finished in the background", func() bool { return !callsInFlight() })

		expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err = client.Call(expired, "ListConcepts", nil)
		failure(t, err, clarifai.CodeTimeout)
	})
}

func TestCancel(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		cfg, listener := silentServer(t, cfg)
		client := newClient(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := client.Call(ctx, "ListConcepts", nil)
		failure(t, err, clarifai.CodeCancelled)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
			t.Fatalf("want context.Canceled at once, got %v after %v", err, time.Since(start))
		}
		// The call went on in the background; Close does not wait for it, the server going
		// away ends it.
		client.Close()
		if !callsInFlight() {
			t.Fatal("the cancelled call should still wait for the server")
		}
		listener.Close()
		eventually(t, "finished in the background", func() bool { return !callsInFlight() })
	})
}

// openSockets counts the process's sockets: a REST channel keeps its connection (and libcurl's
// own socket pair) open until the last client on it is freed.
func openSockets(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			count++
		}
	}
	return count
}

// Closing frees the C client: its keep-alive connection closes (REST; cleartext gRPC opens a
// connection per call with Debian 12's libcurl). Calls after Close fail.
func TestClose(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		sockets := openSockets(t)
		client := newClient(t, cfg)
		if _, err := client.Call(context.Background(), "ListConcepts", nil); err != nil {
			t.Fatal(err)
		}
		if cfg.Transport == clarifai.REST && openSockets(t) <= sockets {
			t.Fatalf("want a keep-alive connection, have %d sockets, had %d", openSockets(t), sockets)
		}
		if err := client.Close(); err != nil {
			t.Fatal(err)
		}
		if openSockets(t) != sockets {
			t.Fatalf("Close left %d sockets, had %d", openSockets(t), sockets)
		}
		if err := client.Close(); err != nil {
			t.Fatal(err)
		}
		for _, ctx := range []context.Context{context.Background(), withTimeout(t, time.Second)} {
			if _, err := client.Call(ctx, "ListConcepts", nil); !errors.Is(err, clarifai.ErrClosed) {
				t.Fatalf("want ErrClosed, got %v", err)
			}
		}
	})
}

// Clients never closed are freed by the garbage collector.
func TestFinalizer(t *testing.T) {
	cfg := clarifai.Config{Transport: clarifai.REST, UserID: "test-user", AppID: "main"}
	sockets := openSockets(t)
	for i := 0; i < 4; i++ {
		client, err := clarifai.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Call(context.Background(), "ListConcepts", nil); err != nil {
			t.Fatal(err)
		}
	}
	if openSockets(t) < sockets+4 {
		t.Fatalf("want 4 keep-alive connections, have %d sockets, had %d", openSockets(t), sockets)
	}
	eventually(t, "freed", func() bool {
		runtime.GC()
		return openSockets(t) == sockets
	})
}

func TestConcurrentCalls(t *testing.T) {
	eachTransport(t, func(t *testing.T, cfg clarifai.Config) {
		client := newClient(t, cfg)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ctx := context.Background()
				if i%2 == 1 {
					ctx = withTimeout(t, 10*time.Second)
				}
				for j := 0; j < 5; j++ {
					prediction, err := client.Predict(ctx, "general-image-recognition", clarifai.Input{URL: fmt.Sprintf("%s?%d-%d", imageURL, i, j)})
					if err == nil && len(prediction.Outputs[0].Concepts) != 20 {
						err = fmt.Errorf("got %d concepts", len(prediction.Outputs[0].Concepts))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
