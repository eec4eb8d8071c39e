// Command predict prints the concepts a model sees in an image given by URL:
//
//	go run ./examples/predict [-transport rest|grpc|grpc-insecure] [-model ID] [URL]
//
// The token comes from $CLARIFAI_PAT, the server from $CLARIFAI_API_BASE (REST) or
// $CLARIFAI_GRPC_BASE (gRPC), else api.clarifai.com.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"clarifai"
)

func main() {
	transport := flag.String("transport", "rest", "rest, grpc (TLS) or grpc-insecure (cleartext HTTP/2)")
	model := flag.String("model", "general-image-recognition", "the model's id")
	flag.Parse()
	url := "https://samples.clarifai.com/metro-north.jpg"
	if flag.NArg() > 0 {
		url = flag.Arg(0)
	}
	transports := map[string]clarifai.Transport{"rest": clarifai.REST, "grpc": clarifai.GRPC, "grpc-insecure": clarifai.GRPCInsecure}
	kind, ok := transports[*transport]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown transport %q\n", *transport)
		os.Exit(2)
	}

	// Clarifai's public models live in user "clarifai", app "main".
	client, err := clarifai.NewClient(clarifai.Config{Transport: kind, UserID: "clarifai", AppID: "main"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prediction, err := client.Predict(ctx, *model, clarifai.Input{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		var failure *clarifai.Error
		if errors.As(err, &failure) {
			fmt.Fprintf(os.Stderr, "HTTP status %d, gRPC status %d, transient %t\n",
				failure.HTTPStatus, failure.GRPCStatus, failure.Transient)
		}
		os.Exit(1)
	}
	for _, concept := range prediction.Outputs[0].Concepts {
		fmt.Printf("%-20s %.3f\n", concept.Name, concept.Value)
	}
}
