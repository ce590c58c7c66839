# `rocks remove vcluster host` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Shrink a virtual cluster: remove compute guests from the database, their
	Rocks rows (nodes, networks, vm_nodes, vm_disks, host attributes, the
	overlay key) and their vc_vms rows, all in one transaction. Their
	recorded copies stay, so the next rocks sync vcluster destroys the
	copies that still run. A virtual frontend goes only with its cluster
	(rocks remove vcluster NAME). With plugin=yes (what rocks remove host
	HOST runs, through the plugin plugin_vcluster.py, before Rocks removes
	the host): forget only what vcluster keeps of a Rocks host (a guest's
	vc_vms row and overlay key, its cluster's virtual frontend reference, a
	VM container's link to the Rocks node) and leave Rocks' rows to rocks
	remove host; a host vcluster does not know is no error there.

	<arg type='string' name='GUEST' optional='0'>
	Comma-separated guests (e.g. vm-vc1-3,vm-vc1-4); with plugin=yes one
	Rocks host name.
	</arg>

	<param type='PLUGIN' name='plugin' optional='1'>
	yes: only vcluster's own rows of one Rocks host (for rocks remove host's
	plugin). Default: no.
	</param>

	<example cmd='remove vcluster host vm-vc1-3,vm-vc1-4'>
	Remove two guests; then rocks sync vcluster vc1 destroys them.
	</example>

	<example cmd='remove host vm-vc1-3'>
	Rocks' own removal of a guest (runs this command with plugin=yes).
	</example>
	"""
