package edge

import (
	"runtime"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
)

// Close ends every goroutine Run started, the helpers that seal and open
// on the second core included: a guest move or a restart in a test closes
// one edge and starts another in the same process.
func TestCloseEndsEveryGoroutine(t *testing.T) {
	for _, proto := range []string{config.Native, config.V1} {
		t.Run(proto, func(t *testing.T) {
			b := newTestbed(t, proto)
			before := runtime.NumGoroutine()
			ran := make(chan error, 1)
			go func() { ran <- b.e.Run() }()
			// Sent with GSO, the burst arrives as one GRO read of 16
			// datagrams: the batch path, which hands half to a helper.
			const n = 16
			burst := make([]byte, n*200)
			if err := b.peer.WriteBatch(burst, 200, b.to); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for got, _ := b.e.Stats.Get("rx_datagrams"); got < n; got, _ = b.e.Stats.Get("rx_datagrams") {
				if time.Now().After(deadline) {
					t.Fatalf("the edge read %d of %d datagrams", got, n)
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.e.Close()
			if err := <-ran; err != nil {
				t.Fatal(err)
			}
			deadline = time.Now().Add(2 * time.Second)
			for runtime.NumGoroutine() > before {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<16)
					t.Fatalf("%d goroutines before Run, %d after Close:\n%s", before, runtime.NumGoroutine(),
						buf[:runtime.Stack(buf, true)])
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
