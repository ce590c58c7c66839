# `rocks report vcluster kickstart` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Print the post script that configures a guest for vcluster: the
	vcluster-guest node file rendered with the guest's host attributes, as
	Rocks renders it, followed by what `rocks sync host sec_attr GUEST`
	delivers: the overlay key (the secure attribute vcluster_key), written
	to /etc/vcluster/edge.key. Root only; keep its output private.

	<arg type='string' name='GUEST' optional='0'>
	A guest that `rocks add vcluster` created (a Rocks host name).
	</arg>

	<param type='NODEFILE' name='nodefile' optional='1'>
	The node file to render; by default the distribution's, else
	/export/profile/nodes/vcluster-guest.xml.
	</param>

	<example cmd='report vcluster kickstart vm-vc1-0'>
	The post script of guest vm-vc1-0.
	</example>

	<example cmd='report vcluster kickstart vm-vc1-0 | ssh vm-vc1-0 bash'>
	Reconfigure a running guest's edge.
	</example>
	"""
