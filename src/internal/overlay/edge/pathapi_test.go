package edge

import (
	"net/netip"

	"github.com/rocksclusters/vcluster/src/internal/overlay/offload"
)

// The packet-path tests drive the loops' steps with the loops' own state.

type testReceiver struct {
	e *Edge
	r *rxNative
}

func newTestReceiver(e *Edge) *testReceiver { return &testReceiver{e: e, r: e.newRxNative()} }

// one handles a lone datagram: prepare, open, finish.
func (rx *testReceiver) one(d []byte, from netip.AddrPort) { rx.e.receiveNative(rx.r, d, len(d), from) }

// batch handles a GRO read of seg-byte datagrams.
func (rx *testReceiver) batch(b []byte, seg int, from netip.AddrPort) {
	rx.e.receiveNative(rx.r, b, seg, from)
}

func (rx *testReceiver) stop() { rx.r.open.stop() }

type testSender struct {
	e *Edge
	t *txNative
}

func newTestSender(e *Edge) *testSender { return &testSender{e: e, t: newTxNative()} }

func (s *testSender) send(frame []byte, to []netip.AddrPort) {
	s.e.sendFrame(s.t, frame, [6]byte(frame[10:16]), to)
}

func (s *testSender) stop() { s.t.seal.stop() }

type testV1Receiver struct {
	e *Edge
	r rxBatch
}

func newTestV1Receiver(e *Edge) *testV1Receiver {
	rx := &testV1Receiver{e: e}
	rx.r.init(e)
	return rx
}

func (rx *testV1Receiver) batch(ds [][]byte, from netip.AddrPort) {
	rx.r.dgs, rx.r.froms = rx.r.dgs[:0], rx.r.froms[:0]
	for _, d := range ds {
		rx.r.dgs = append(rx.r.dgs, d)
		rx.r.froms = append(rx.r.froms, from)
	}
	rx.e.rxBatchV1(&rx.r)
}

func (rx *testV1Receiver) stop() { rx.r.decode.stop() }

type testV1Sender struct {
	e   *Edge
	t   *txBatchV1
	seg offload.Segmenter
}

func newTestV1Sender(e *Edge) *testV1Sender { return &testV1Sender{e: e, t: e.newTxBatchV1()} }

// send reads frame n times from the TAP device, then seals and sends.
func (s *testV1Sender) send(frame []byte, n int) {
	for i := 0; i < n; i++ {
		s.e.readV1(s.t, frame, &s.seg)
	}
	s.e.sealSendV1(s.t)
}

func (s *testV1Sender) stop() { s.t.seal.stop() }
