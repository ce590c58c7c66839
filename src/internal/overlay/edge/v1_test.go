package edge

import (
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/overlay/offload"
	"github.com/rocksclusters/vcluster/src/internal/overlay/tap"
)

// The v1 TAP read buffer must hold the largest super-frame the kernel can
// hand over: a truncated one is dropped, and TCP stalls retransmitting it.
func TestV1ReadBufferHoldsLargestSuperFrame(t *testing.T) {
	if largest := tap.VnetHdrLen + 14 + offload.MaxIPLen; v1ReadBuf < largest {
		t.Fatalf("read buffer %d < %d", v1ReadBuf, largest)
	}
	// Every segment of a super-frame and every received frame fits a slot
	// (MTU 9000 + Ethernet), with room for the virtio-net header.
	if v1Slot < 9014 || rxSlot < 9014+tap.VnetHdrLen {
		t.Fatalf("slots too small: %d, %d", v1Slot, rxSlot)
	}
}
