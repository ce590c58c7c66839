# `rocks remove vcluster host` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Forget what vcluster keeps of a host that Rocks is removing: a guest's
	vc_vms row and its overlay key (the secure attribute vcluster_key), its
	cluster's virtual frontend reference, a VM container's link to the Rocks
	node. Its recorded copies stay, so the next rocks sync vcluster destroys
	the copy that still runs. Rocks' own rows are left to rocks remove host.
	For internal use: rocks remove host HOST runs it (through the plugin
	plugin_vcluster.py) before Rocks removes the host; use that, not this. A
	host vcluster does not know is no error.

	<arg type='string' name='HOST' optional='0'>
	A Rocks host name.
	</arg>

	<example cmd='remove host vm-vc1-3'>
	Remove a guest from Rocks and from its virtual cluster (runs this
	command).
	</example>
	"""
