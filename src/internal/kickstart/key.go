package kickstart

// KeyAttr is the secure attribute (Rocks' sec_node_attributes) that holds
// a guest's overlay key. Rocks never puts a secure attribute into a
// kickstart file, so the guest node file does not name it: `rocks sync
// host sec_attr` hands it to the plugin src/rocks-commands/sec_attr/
// vcluster_key.py on the guest (at first boot, through 411-client's
// rqst-sec-attrs), which writes the key file.
const KeyAttr = "vcluster_key"

// keyNode is what that plugin does, as a node file for this renderer.
const keyNode = `<?xml version="1.0" standalone="no"?>
<kickstart>
<post>
umask 077
mkdir -p /etc/vcluster
<file name="/etc/vcluster/edge.key" perms="0600" rcs="false">
&vcluster_key;
</file>
umask 022
</post>
</kickstart>
`

// GuestKey renders the delivery of attrs[KeyAttr] (validate attrs with
// ValidateGuest first), to run after the guest node file's script.
func GuestKey(attrs map[string]string) (*Node, error) {
	return Parse([]byte(keyNode), Options{Name: "sec_attr " + KeyAttr, Attrs: attrs})
}
