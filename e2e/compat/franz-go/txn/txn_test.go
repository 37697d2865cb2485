// A franz-go transactional producer against Tributary, which has no transaction coordinator: the produce must fail
// fast with the broker's reason, instead of retrying a coordinator lookup until a timeout. Run by ../run.sh with
// KGO_SEEDS pointing at the broker (docs/compat.md "franz-go").
package txn

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTransactionalProducerFailsFast(t *testing.T) {
	seeds := os.Getenv("KGO_SEEDS")
	if seeds == "" {
		t.Fatal("KGO_SEEDS must name the broker (run.sh sets it)")
	}
	topic := "franz-go-txn-" + time.Now().Format("150405.000000")
	started := time.Now()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(seeds, ",")...),
		kgo.TransactionalID(topic),
		kgo.DefaultProduceTopic(topic),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// franz-go initializes a transactional producer's id as soon as the client starts, so the failure may already
	// show in BeginTransaction; otherwise the first produce reports it.
	err = cl.BeginTransaction()
	if err == nil {
		err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("inside a transaction")}).FirstErr()
	}
	elapsed := time.Since(started)
	if err == nil {
		t.Fatal("a transactional produce succeeded against a broker without transactions")
	}
	if errors.Is(err, context.DeadlineExceeded) || elapsed > 10*time.Second {
		t.Fatalf("the transactional producer failed only after %v: %v", elapsed, err)
	}
	// franz-go names the error code but drops the broker's message on this path; the code is the one the broker
	// chose because every client treats it as fatal.
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("want CLUSTER_AUTHORIZATION_FAILED, got %v", err)
	}
	t.Logf("failed after %v: %v", elapsed.Round(time.Millisecond), err)
}
